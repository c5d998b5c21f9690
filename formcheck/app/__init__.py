"""The Streamlit app's pages, one module per job; ``app.py`` at the top level is the entry.

Nothing outside this package imports it: it sits on top of the analysis and outputs layers.
"""
