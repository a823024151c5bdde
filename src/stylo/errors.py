"""The exceptions that carry a message meant for the user.

Messages name settings by their field names (``size``, ``lr``); ``settings`` lists the names a message
mentions, so the CLI can show them as flags (``--size``) and the studio as its own labels.
"""

from __future__ import annotations


class StyloError(Exception):
    """Bad input or usage, with a one-line message for the user. The CLI exits with status 2."""

    exit_code = 2

    def __init__(self, message: str, settings: tuple[str, ...] = ()):
        super().__init__(message)
        self.settings = settings


class RunError(StyloError):
    """A run that was set up right but failed while computing or saving (divergence, a full disk).

    The CLI exits with status 1. ``saved_to`` names where the computed image was kept, if anywhere.
    """

    exit_code = 1

    def __init__(self, message: str, settings: tuple[str, ...] = (), saved_to: str | None = None):
        super().__init__(message, settings)
        self.saved_to = saved_to
