"""Exceptions the engine raises for problems a user can fix.

The command line turns each into a one-line message and an exit code; the web API
(``mcae.platform``) maps them to 4xx statuses in one place.
"""


class MCAEError(Exception):
    """Base class of every error a user can act on."""

    exit_code = 1


class InputError(MCAEError):
    """The input (image, raster, file, option) is missing, corrupt or unsupported."""

    exit_code = 2


class NotFoundError(MCAEError, LookupError):
    """Something named by id or name is not there (a city, a layer, a patch, a class): its own
    error, not a ``KeyError``, so its message reads as written (404 on the web API)."""

    exit_code = 2


class ProjectStateError(MCAEError):
    """The project is not ready for the step asked for (for example no model yet)."""

    exit_code = 3


class StorageError(MCAEError):
    """The disk (or the quota) is full: nothing was written and the previous state is kept.

    Exit code 2 like a bad input: the user frees space and runs the command again. Its message
    names files by their name only, so the web API can pass it on as it is.
    """

    exit_code = 2
