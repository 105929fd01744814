"""User-facing errors: one clear line naming the field and the fix."""

from __future__ import annotations


class ToolDojoError(Exception):
    """An error caused by the user's input or environment, shown as one line without a traceback.

    ``field`` names the config key, file or argument at fault; ``fix`` says what to do.
    """

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None):
        self.field = field
        self.fix = fix
        parts = [f"{field}: {message}" if field else message]
        if fix:
            parts.append(f"fix: {fix}")
        super().__init__(" — ".join(parts))


class ConfigError(ToolDojoError):
    """A malformed or inconsistent configuration value."""


class DataError(ToolDojoError):
    """A row or file that does not have the shape a stage needs."""


class TeacherError(ToolDojoError):
    """The teacher endpoint is unreachable, refuses, or is misconfigured."""
