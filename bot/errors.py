"""User-facing error kinds.

Every failure that reaches a person is classified into one of a few kinds at the job boundary,
so each adapter can word and style it the same way (and decide whether a Retry button helps).
"""

from __future__ import annotations

import enum


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
