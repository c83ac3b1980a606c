"""What the core answers: a small closed set of typed outcomes, and the job updates.

Every use case returns one `Outcome`; each adapter has one sender per type, chosen with an
exhaustive `match`, so "who sees it, what it carries" is decided here once:

- `Notice`: text only the person who asked sees (a list, a confirmation, a hint).
- `Problem`: a request refused or impossible, and why, for the person who asked.
- `Queued`: a job accepted; its status line goes where it was asked, updated as the job runs.
- `Images`: images with their buttons, posted where asked (a result, a pick, /show).
- `JobFailed`: a job that failed or was cancelled after it was accepted, said in its thread
  (with Retry when trying again may help).

Job progress travels as `JobUpdate`s to the presenter each adapter registers.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.buttons import ButtonId, Verb
from bot.domain import Job
from bot.errors import ErrorKind
from bot.text import display_text


@dataclass(frozen=True)
class Button:
    """A platform-neutral button: a label and style over a `ButtonId` (bot.buttons), which says
    everything needed to act on a click."""

    verb: Verb
    target: str
    label: str
    arg: str | None = None
    style: Literal["primary", "secondary", "danger"] = "secondary"

    def __post_init__(self) -> None:
        # A verb given as its text ("cancel") is the Verb; an unknown one fails here, as does an
        # id too long for a platform to carry (the codec's one check), where the button is made.
        object.__setattr__(self, "verb", Verb(self.verb))
        self.id.encode()

    @classmethod
    def of(
        cls, button_id: ButtonId, label: str, style: Literal["primary", "secondary", "danger"] = "secondary"
    ) -> Button:
        return cls(button_id.verb, button_id.target, label, button_id.arg, style)

    @property
    def id(self) -> ButtonId:
        return ButtonId(self.verb, self.target, self.arg)

    @property
    def custom_id(self) -> str:
        """The id as the platforms carry it (Discord custom_id, Slack action_id and value)."""
        return self.id.encode()


@dataclass(frozen=True)
class ImageView:
    """An image ready to post: bytes plus the facts a caption needs."""

    image_id: str
    filename: str
    data: bytes
    mime: str
    width: int
    height: int

    def __repr__(self) -> str:  # never print image bytes
        return f"ImageView({self.image_id!r}, {self.filename!r}, {self.width}x{self.height})"


@dataclass(frozen=True)
class Caption:
    short_id: str
    prompt: str
    model: str
    size: str
    requester: str
    label: str | None = None  # "offline preview", "local resample", ...
    texts: tuple[str, ...] = ()  # words asked for exactly (--text), shown apart to check spelling
    cells: tuple[str, ...] = ()  # each grid cell's label, in order (a comparison's models)

    def render(self, prompt_limit: int = 200, escape: Callable[[str], str] = str) -> str:
        """One caption line. What people typed is shown as one clean line (no control characters,
        escapes or bidi), then passed through `escape`: a platform's way to make it plain text
        (Discord's markdown escaping, for one), so a prompt can never format or link."""
        prompt = escape(display_text(self.prompt, prompt_limit))
        requester = escape(display_text(self.requester, 80))
        bits = [f"`{self.short_id}`", f"“{prompt}”", self.model, self.size, f"by {requester}"]
        if self.texts:
            shown = ", ".join(f"“{escape(display_text(text, 100))}”" for text in self.texts)
            bits.insert(2, f"text {shown}")
        if self.label:
            bits.append(f"[{self.label}]")
        # A labelled set lists its cells too, so the labels can be read (and copied) as text.
        cells = [f"\n`{k}` {escape(display_text(cell, 100))}" for k, cell in enumerate(self.cells, start=1)]
        return " · ".join(bits) + "".join(cells)


@dataclass(frozen=True)
class Notice:
    """Text only the person who asked sees."""

    text: str
    buttons: tuple[Button, ...] = ()
    job_id: str | None = None  # the job it is about ("Cancelling job …", "Already on it")


@dataclass(frozen=True)
class Problem:
    """A request refused or impossible, explained: only the person who asked sees it, unless
    it answers a message everyone saw (a mention) and is said there."""

    kind: ErrorKind
    text: str
    buttons: tuple[Button, ...] = ()  # e.g. U1–U4 when a reply must first pick an image
    public: bool = False


@dataclass(frozen=True)
class Queued:
    """A job accepted: its status line, posted where it was asked and updated as the job runs."""

    job: Job
    position: int  # 0: starting now; k: k-th in line
    text: str
    buttons: tuple[Button, ...] = ()

    @property
    def job_id(self) -> str:
        return self.job.id


@dataclass(frozen=True)
class Images:
    """Images with their buttons: a finished result, a pick from a set, /show."""

    text: str  # the headline and the caption line
    caption: Caption
    images: tuple[ImageView, ...]  # the set's images, or the single image
    grid: ImageView | None = None  # the preview of a multi-image set
    buttons: tuple[Button, ...] = ()
    job_id: str | None = None  # the job that made them, when this is its result
    notes: tuple[str, ...] = ()  # e.g. "re-encoded to fit the upload limit"


@dataclass(frozen=True)
class JobFailed:
    """A job that failed or was cancelled after it was accepted, said in its thread."""

    job_id: str
    kind: ErrorKind
    text: str
    buttons: tuple[Button, ...] = ()  # Retry, when trying again may help


Outcome = Notice | Problem | Queued | Images | JobFailed


def problem_kind(outcome: Outcome | None) -> ErrorKind | None:
    """What went wrong, for outcomes that say something went wrong; None for the others."""
    if isinstance(outcome, Problem | JobFailed):
        return outcome.kind
    return None


class Stage(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PARTIAL = "partial"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JobUpdate:
    """One step of a job's life, sent to the presenter of the job's platform."""

    job: Job
    stage: Stage
    position: int | None = None  # 1-based place in the queue, when queued
    preview: bytes | None = None  # a partial image from the model, when streaming
    # The first QUEUED update carries the job's Queued outcome (its status line); the last one,
    # the finished result, or why it failed or stopped.
    result: Queued | Images | JobFailed | None = None
    again: bool = False  # a job announced once more (its request handled again after a restart)

    def __repr__(self) -> str:
        return f"JobUpdate({self.job.id!r}, {self.stage.value!r}, position={self.position})"
