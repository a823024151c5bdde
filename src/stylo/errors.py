"""The one exception type that carries a message meant for the user."""

from __future__ import annotations


class StyloError(Exception):
    """Bad input or an unusable environment, with a one-line message for the user.

    The CLI turns it into ``stylo: <message>`` on stderr and exit status 2.
    """
