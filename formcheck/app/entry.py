"""The script ``formcheck app`` gives ``streamlit run``: the page, with samples from
``FORMCHECK_SAMPLE_DIR`` or ``sample_videos/`` in the folder it was started from."""

from pathlib import Path

from formcheck.app.page import main

if __name__ == "__main__":  # as streamlit runs it
    main(Path.cwd() / "sample_videos")
