"""The kit's error types.

Every error a user can cause (a bad file, a wrong column, a tampered model
directory) is an `AlbertTfError`, so that the CLI can print its message to
stderr and exit non-zero without a traceback, while real bugs still raise.
"""


class AlbertTfError(Exception):
    """A problem with the user's input, files or options; the message says which."""


class DataError(AlbertTfError, ValueError):
    """A data file cannot be read as asked (missing column, bad encoding, ...)."""


class ModelDirError(AlbertTfError):
    """A model directory is missing, incomplete or does not match its manifest."""


class TokenizerError(AlbertTfError, ValueError):
    """A tokenizer model is unreadable or does not follow ALBERT's conventions."""


class InputError(AlbertTfError, ValueError):
    """A text handed to a model cannot be classified (empty, not a string, bad UTF-8).

    `reason` is the message without the text's position ("empty or whitespace
    only") and `index` that position in the list given (None if not about
    one text), for callers that report each text in place (the CLI's records).
    """

    def __init__(self, message, reason=None, index=None):
        super().__init__(message)
        self.reason = reason or message
        self.index = index


class ModelFileError(AlbertTfError):
    """A model file is unreadable, corrupted, or does not match its labels or tokenizer."""


class ModelOutputError(AlbertTfError):
    """A model produced outputs that cannot be trusted (NaN or infinite scores)."""


class RuntimeUnavailableError(AlbertTfError, ImportError):
    """No TFLite interpreter package is installed."""


class CheckpointError(AlbertTfError, ValueError):
    """A checkpoint to import is incomplete or does not fit its config (names the tensor)."""
