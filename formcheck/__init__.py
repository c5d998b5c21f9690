"""formcheck: checks backward-running form from side-view video."""

__version__ = "0.1.0"

from formcheck.api import Outputs, analyze  # noqa: E402
from formcheck.errors import FormcheckError  # noqa: E402
from formcheck.outputs.report import Report  # noqa: E402

__all__ = ["analyze", "Outputs", "Report", "FormcheckError", "__version__"]
