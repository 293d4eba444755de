"""One exception root, so callers can catch every svduty failure (or the built-in kind)."""


class SvdutyError(Exception):
    """Root of every error svduty raises on purpose."""


class InputError(SvdutyError, ValueError):
    """A file, option or setting the user gave is wrong; the message says which and what to do."""


class WorkspaceError(SvdutyError):
    """The workspace is missing, or its settings are unusable."""


class EngineError(SvdutyError):
    """An engine failed or lacks a capability; the message names the engine and the stage."""
