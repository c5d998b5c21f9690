"""Server-side helpers of the Streamlit app (app.py at the top level is its entry)."""
