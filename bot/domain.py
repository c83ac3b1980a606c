"""The core's vocabulary: typed, frozen records that cross module boundaries.

Adapters build the request records, the core answers with `Reply` and `JobUpdate`; nothing here
knows about Discord, Slack or the terminal.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Literal

from bot.errors import ErrorKind
from bot.records import ImageParams

Quality = Literal["low", "medium", "high", "xhigh", "max", "auto"]
OutputFormat = Literal["png", "webp", "jpeg"]
Background = Literal["transparent", "opaque", "auto"]

MIME_BY_FORMAT: dict[str, str] = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}
FORMAT_BY_MIME: dict[str, str] = {v: k for k, v in MIME_BY_FORMAT.items()}


@dataclass(frozen=True)
class SessionKey:
    """Where a conversation lives: one chat thread on one platform."""

    platform: str
    workspace: str
    channel: str
    thread: str

    def same_workspace(self, other: SessionKey) -> bool:
        """Whether both are in one workspace (a Slack team, a Discord server) of one platform."""
        return (self.platform, self.workspace) == (other.platform, other.workspace)


@dataclass(frozen=True)
class UserRef:
    platform: str
    id: str
    name: str = ""
    is_admin: bool = False

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"

    @property
    def safety_identifier(self) -> str:
        """A stable, non-identifying id for the provider's abuse monitoring (a hash, never a name)."""
        return hashlib.sha256(f"imagebot:{self.platform}:{self.id}".encode()).hexdigest()[:32]

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class ImageOptions:
    """Effective generation parameters after parsing and validation."""

    model: str
    size: str  # "WIDTHxHEIGHT" or "auto"
    n: int = 1
    quality: Quality = "auto"
    output_format: OutputFormat = "png"
    background: Background = "auto"
    compression: int | None = None  # 0..100, webp/jpeg only

    @property
    def mime(self) -> str:
        return MIME_BY_FORMAT[self.output_format]

    def dimensions(self) -> tuple[int, int] | None:
        if self.size == "auto":
            return None
        w, h = self.size.split("x")
        return int(w), int(h)


@dataclass(frozen=True)
class OptionOverrides:
    """Options a person asked for explicitly (slash-command fields or --flags); None = not given."""

    aspect: str | None = None
    size: str | None = None
    n: int | None = None
    quality: str | None = None
    model: str | None = None
    output_format: str | None = None
    background: str | None = None
    compression: int | None = None
    style: str | None = None  # a house style's name (bot/styles.py); only saved defaults carry one

    def merged_over(self, base: OptionOverrides) -> OptionOverrides:
        """These overrides, falling back to `base` for anything not given here."""
        values = {}
        for name in self.__dataclass_fields__:
            mine = getattr(self, name)
            values[name] = mine if mine is not None else getattr(base, name)
        return OptionOverrides(**values)


@dataclass(frozen=True)
class Attachment:
    """A file a person sent along, already fetched by the adapter."""

    filename: str
    data: bytes
    content_type: str | None = None

    def __repr__(self) -> str:  # never print image bytes
        return f"Attachment({self.filename!r}, {len(self.data)} bytes, {self.content_type!r})"


class Operation(enum.StrEnum):
    IMAGINE = "imagine"
    EDIT = "edit"
    VARY_SUBTLE = "vary_subtle"
    VARY_STRONG = "vary_strong"
    REROLL = "reroll"
    UPSCALE = "upscale"
    ZOOM_OUT = "zoom_out"
    ASPECT = "aspect"
    REMOVE_BG = "remove_bg"
    UPLOAD = "upload"
    BLEND = "blend"


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.input_text_tokens + other.input_text_tokens,
            self.input_image_tokens + other.input_image_tokens,
            self.output_tokens + other.output_tokens,
        )


@dataclass(frozen=True)
class StoredImage:
    id: str
    session_id: int
    blob: str  # sha256 of the bytes in the blob store
    mime: str
    width: int
    height: int
    operation: Operation
    prompt: str
    params: ImageParams
    requester: str  # UserRef.key
    created_at: float
    parents: tuple[str, ...] = ()
    set_id: str | None = None
    set_index: int | None = None  # 1-based position in its set
    revised_prompt: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    label: str | None = None  # e.g. "offline preview", "local resample"

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class ImageSet:
    id: str
    session_id: int
    operation: Operation
    prompt: str
    image_ids: tuple[str, ...]
    requester: str
    created_at: float
    job_id: str | None = None


@dataclass(frozen=True)
class Session:
    id: int
    key: SessionKey
    current_image_id: str | None
    last_set_id: str | None
    # True while the last result was a multi-image set nobody has picked from yet: a plain reply
    # then asks which image instead of guessing.
    awaiting_pick: bool
    created_at: float


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class JobPart:
    """One image of a job made of several different requests (a model comparison, a template
    pack): its own prompt and options (n=1), and the label its grid cell shows."""

    prompt: str
    options: ImageOptions
    label: str


@dataclass(frozen=True)
class JobSpec:
    """Everything a job needs to run, so it can be resumed from the database after a restart."""

    operation: Operation
    prompt: str  # the prompt (imagine) or the instruction (edits), as the user wrote it
    options: ImageOptions
    sources: tuple[str, ...] = ()  # image ids sent as inputs, the primary image first
    mask_blob: str | None = None  # sha256 of an uploaded mask, for /edit with a mask
    zoom: float | None = None  # zoom-out factor
    aspect: str | None = None  # target aspect for ASPECT, e.g. "1:1"
    # Several different requests made as one set, one image each (bot/parts.py); `options` is
    # then the first part's, with n = the number of parts.
    parts: tuple[JobPart, ...] = ()


@dataclass(frozen=True)
class Job:
    id: str
    session_id: int
    where: SessionKey
    requester: UserRef
    spec: JobSpec
    status: JobStatus
    created_at: float
    attempts: int = 0
    error_kind: ErrorKind | None = None
    error_message: str | None = None
    result_set_id: str | None = None
    # USD held against the budgets while the job is queued or running; once it finishes, the
    # cost from the API's reported usage counts instead.
    reserved_usd: float = 0.0
    intake_key: str | None = None  # the incoming request this job was made for (one job per request)


@dataclass(frozen=True)
class SpendLimit:
    """A monthly budget a new job's reservation must fit in: a workspace's, or one person's there."""

    platform: str
    workspace: str
    budget_usd: float
    since: float  # start of the budget period (epoch seconds)
    requester: str | None = None  # UserRef.key for a person's budget; None for the workspace's

    def crossed_by(self, spent_usd: float, reserved_usd: float, cost_usd: float) -> bool:
        """Whether a job costing `cost_usd` would take this budget past its limit (exactly at the
        limit is allowed; float rounding well below a cent is not counted)."""
        return spent_usd + reserved_usd + cost_usd > self.budget_usd + 1e-9


@dataclass(frozen=True)
class SpendRefusal:
    """Why a job was not accepted: the limit, what was spent and what is still reserved."""

    limit: SpendLimit
    spent_usd: float  # cost of finished jobs this period
    reserved_usd: float  # held by jobs still queued or running

    @property
    def left_usd(self) -> float:
        return max(self.limit.budget_usd - self.spent_usd - self.reserved_usd, 0.0)


@dataclass(frozen=True)
class Placement:
    """Where an existing image goes on a larger canvas for outpainting (zoom out, change aspect).

    The image is resized to inner_width x inner_height and pasted with its top-left corner at
    (x, y); everything else on the canvas is what the model fills in.
    """

    canvas_width: int
    canvas_height: int
    inner_width: int
    inner_height: int
    x: int
    y: int
