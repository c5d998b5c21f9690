"""Text a user or a file supplied (clip names, messages quoting them), shown as itself.

Streamlit renders Markdown in most elements, so an upload named ``[win](http://…)`` or
``![x](http://…)`` would become a link or an image in every visitor's History tab.
"""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_\[\]()#!<>~$:])")


def plain(text: object) -> str:
    """``text`` with every Markdown and HTML character escaped, so it reads exactly as written."""
    return _MARKDOWN.sub(r"\\\1", str(text))
