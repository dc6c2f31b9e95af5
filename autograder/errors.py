"""Errors meant for people: each carries its exit status and a message that names the fix."""

from __future__ import annotations


class AutograderError(Exception):
    """A problem the user can fix (bad config, missing data, missing file).

    The command line prints ``Error: <message>`` and exits with ``exit_code``;
    no traceback is shown.
    """

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(AutograderError):
    """grading.toml is missing, malformed, or holds an unknown or mistyped key."""


class DataError(AutograderError):
    """The dataset files are missing, unreadable or corrupt."""


class SubmissionError(AutograderError):
    """A submission path does not hold the assignment's file."""
