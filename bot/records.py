"""Typed records the core reads from and writes to storage, beyond the domain's own.

They cross the storage port (`bot/ports.py`): storage builds them from its rows, the core never
sees a row, a tuple or a JSON dict.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImageParams:
    """How an image was made: the options it was rendered with and the facts kept beside them.

    Stored as JSON with the image; `from_json` reads rows written by any earlier version (unknown
    keys are ignored, missing ones take their defaults)."""

    model: str = ""
    size: str = ""  # the size asked for ("auto" or "WxH"); the image's own size is on StoredImage
    n: int = 1  # images in the job that made it
    quality: str | None = None
    output_format: str | None = None
    background: str | None = None
    compression: int | None = None
    provider: str | None = None  # which provider rendered it ("openai", "offline")
    requester_name: str | None = None  # the display name at the time, for captions
    instruction: str | None = None  # the instruction actually sent, when it differs from the prompt
    upscaled: bool = False  # an upscale, or keeps an upscale's size (edit, zoom, reframe, cut-out)
    zoom: float | None = None
    aspect: str | None = None
    filename: str | None = None  # an upload's file name
    cell_label: str | None = None  # a part's label on its set's grid cell (model, price, time)
    set_note: str | None = None  # said under its set, e.g. which compared model failed and why

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ImageParams:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def to_json(self) -> dict[str, Any]:
        """What differs from the defaults (so rows stay small and read like the old ones)."""
        defaults = ImageParams()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(defaults, f.name)
        }


@dataclass(frozen=True)
class UsageRow:
    """What one finished job spent: the row /usage, quotas and budgets count."""

    job_id: str
    platform: str
    workspace: str
    requester: str
    model: str
    images: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class UsageTotals:
    images: int
    cost_usd: float
    jobs: int


@dataclass(frozen=True)
class RequesterUsage:
    """One person's share of a workspace's usage (the /usage leaderboard)."""

    requester: str  # UserRef.key
    images: int
    cost_usd: float


@dataclass(frozen=True)
class IntakeRequest:
    """An incoming platform request, stored before it is acknowledged."""

    key: str
    platform: str
    kind: str
    payload: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class IntakeRow:
    """A stored incoming request and what handling it has learned so far."""

    key: str
    platform: str
    kind: str
    payload: dict[str, Any] = field(repr=False)
    notes: dict[str, Any]
    attempts: int
    received_at: float
    finished_at: float | None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


class PostKind(enum.StrEnum):
    """The messages a job's delivery posts, in the order they happen."""

    STATUS = "status"  # the job's status line (queued, working), edited as it goes
    UPLOAD = "upload"  # the result's files were sent; their message may not be known yet
    RESULT = "result"  # the outcome (images and buttons, or the failure) was posted
    FINAL = "final"  # the status line was brought to its end ("✅ Done…")


@dataclass(frozen=True)
class PostRef:
    """Where one of a job's messages was posted (a Slack ts, a Discord message id)."""

    kind: PostKind
    channel: str
    message: str | None = None  # None while unknown (files uploaded, their message not yet seen)
