"""Typed errors, each carrying one sentence a user can act on.

The CLI prints ``str(error)`` and exits 2 for ``InputError`` (bad input the user
can fix) and 1 for any other ``FormcheckError``; the app shows it in an error panel.
"""


class FormcheckError(Exception):
    """Base class: the message is meant for the user, not a developer."""


class InputError(FormcheckError):
    """The input (file, camera, settings) cannot be used; the user can fix it."""


class VideoError(InputError):
    """The video cannot be opened or decoded, or has no usable frames."""


class CameraError(InputError):
    """The camera is missing or gives no frames."""


class NoPersonError(InputError):
    """No runner was found in (enough of) the clip."""


class ConfigError(InputError):
    """A config file or threshold override is invalid."""


class ModelError(FormcheckError):
    """The pose model file is missing or corrupt."""


class OutputError(FormcheckError):
    """An output file could not be written (permissions, full disk)."""


class BusyError(FormcheckError):
    """The server is busy with other analyses; trying again later will do."""
