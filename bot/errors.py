"""User-facing error kinds.

Every failure that reaches a person is classified into one of a few kinds at the job boundary,
so each adapter can word and style it the same way (and decide whether a Retry button helps).
"""

from __future__ import annotations

import enum
import errno
import sqlite3


class ErrorKind(enum.StrEnum):
    INVALID_INPUT = "invalid_input"  # the user's request or upload is wrong: fix it and resend
    REFUSED = "refused"  # the provider's safety system declined the prompt or image
    RATE_LIMITED = "rate_limited"  # the provider is throttling us; retrying later helps
    UNAVAILABLE = "unavailable"  # provider down, timed out or unreachable; retrying helps
    QUOTA = "quota"  # a team limit (queue, daily images, monthly budget) is reached
    FORBIDDEN = "forbidden"  # this person may not do this (e.g. cancel someone else's job)
    NOT_FOUND = "not_found"  # an id that does not exist here
    CANCELLED = "cancelled"  # the job was cancelled by a person
    INTERNAL = "internal"  # a bug or a misconfiguration on our side

    @property
    def retryable(self) -> bool:
        """Whether pressing Retry can reasonably succeed without the user changing anything."""
        return self in (ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.INTERNAL)


class BotError(Exception):
    """An error with a message meant for the person who asked.

    `message` must be specific and safe to show (no secrets, no stack traces).
    """

    def __init__(self, kind: ErrorKind, message: str, *, category: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.category = category  # e.g. the safety category the API named, when it named one

    def __repr__(self) -> str:
        return f"BotError({self.kind.value!r}, {self.message!r})"


def invalid(message: str) -> BotError:
    """Shorthand for the most common kind: the input is wrong, and here is exactly why."""
    return BotError(ErrorKind.INVALID_INPUT, message)


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_AFTER = "An admin needs to fix the server's storage; then press Retry."


def check_image_count(name: str, count: int, low: int, high: int) -> None:
    """Refuse `count` images for a command that takes `low` to `high` of them (blend: 2 to 5),
    in the same words for every command."""
    if count < low:
        raise invalid(f"{name} needs {low} to {high} images; you gave {count}.")
    if count > high == 1:
        raise invalid(f"{name} takes one image; you gave {count}.")
    if count > high:
        raise invalid(
            f"{name} takes at most {high} images; you gave {count}. Pick the {high} that matter most."
        )


def storage_error(exc: BaseException) -> BotError | None:
    """A failed write to the server's own storage (disk full, read-only, I/O error, a locked or
    damaged database) in words the requester understands; None for any other exception.

    A storage layer's own typed error (a BotError raised *from* the OSError or sqlite3 error) is
    judged by that cause, so the requester gets the specific words and a short fault is retried.
    """
    if isinstance(exc, BotError) and isinstance(exc.__cause__, OSError | sqlite3.Error):
        return storage_error(exc.__cause__)
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return BotError(
            ErrorKind.UNAVAILABLE, f"The server's disk is full, so the result could not be saved. {_AFTER}"
        )
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return BotError(
            ErrorKind.UNAVAILABLE,
            f"The server's storage is read-only, so the result could not be saved. {_AFTER}",
        )
    if isinstance(exc, OSError) and exc.errno == errno.EIO:
        return BotError(
            ErrorKind.UNAVAILABLE, f"The server's disk reported an I/O error while saving. {_AFTER}"
        )
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        if "full" in text:
            return BotError(
                ErrorKind.UNAVAILABLE,
                f"The server's disk is full, so the result could not be saved. {_AFTER}",
            )
        if "locked" in text or "busy" in text:
            return BotError(
                ErrorKind.UNAVAILABLE, "The bot's database was busy for too long. Please press Retry."
            )
        if "readonly" in text or "read-only" in text:
            return BotError(
                ErrorKind.UNAVAILABLE, f"The bot's database is read-only, so nothing could be saved. {_AFTER}"
            )
        if "malformed" in text or "not a database" in text or "disk i/o" in text:
            return BotError(
                ErrorKind.INTERNAL,
                "The bot's database is damaged, so this job could not be saved. An admin must restore it.",
            )
    return None
