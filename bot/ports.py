"""The storage the core needs, as protocols: the core depends on these, never on `storage/`.

`storage/` implements them on SQLite and files; the composition root (`adapters/composition.py`)
hands the concrete store to the core. A PostgreSQL or S3 backend implements the same protocols.
Every look-up of an id someone typed or clicked takes the workspace it came from (`within`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.domain import (
    ImageSet,
    Job,
    JobStatus,
    OptionOverrides,
    Session,
    SessionKey,
    SpendLimit,
    SpendRefusal,
    StoredImage,
)
from bot.errors import ErrorKind
from bot.records import IntakeRequest, IntakeRow, PostRef, RequesterUsage, UsageRow, UsageTotals
from bot.style_records import Style, StyleScope
from bot.suggestions import Suggestions
from bot.templates import Renamed, Shelf, Template


class BlobStorage(Protocol):
    """Image bytes by their sha256; written in full before any record names them."""

    async def put(self, data: bytes) -> str: ...

    async def get(self, digest: str) -> bytes: ...


class ImageRepository(Protocol):
    """Sessions (one per chat thread), images with their lineage, and sets."""

    async def session_for(self, key: SessionKey) -> Session: ...

    async def find_session(self, key: SessionKey) -> Session | None: ...

    async def session(self, session_id: int) -> Session: ...

    async def set_current(
        self, session_id: int, image_id: str | None, *, last_set_id: str | None = None, awaiting_pick: bool
    ) -> None: ...

    async def image(self, image_id: str, *, within: SessionKey) -> StoredImage | None: ...

    async def image_set(self, set_id: str, *, within: SessionKey) -> ImageSet | None: ...

    async def session_history(self, session_id: int, limit: int = 10) -> list[StoredImage]: ...

    async def requester_history(
        self, requester: str, *, within: SessionKey, limit: int = 10
    ) -> list[StoredImage]: ...

    async def add_upload(self, image: StoredImage) -> None: ...


class JobRepository(Protocol):
    """The persisted job queue, usage and budgets, and where outcomes were posted."""

    async def create(self, job: Job, limits: Sequence[SpendLimit] = ()) -> SpendRefusal | None: ...

    async def by_intake_key(self, key: str) -> Job | None: ...

    async def committed(self, limit: SpendLimit) -> tuple[float, float]: ...

    async def get(self, job_id: str, *, within: SessionKey | None = None) -> Job | None: ...

    async def with_status(self, *statuses: JobStatus) -> list[Job]: ...

    async def mark_running(self, job_id: str) -> None: ...

    async def requeue(self, job_id: str) -> None: ...

    async def mark_finished(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error_kind: ErrorKind | None = None,
        error_message: str | None = None,
    ) -> None: ...

    async def complete(
        self,
        job: Job,
        images: list[StoredImage],
        image_set: ImageSet | None,
        usage: UsageRow,
        *,
        current_image_id: str | None,
        awaiting_pick: bool,
    ) -> None: ...

    async def usage_of_requester(self, requester: str, since: float) -> UsageTotals: ...

    async def usage_of_workspace(self, platform: str, workspace: str, since: float) -> UsageTotals: ...

    async def top_users(
        self, platform: str, workspace: str, since: float, limit: int = 10
    ) -> list[RequesterUsage]: ...

    async def undelivered(self, platform: str, since: float) -> list[Job]: ...

    async def unfinalised(self, platform: str, since: float) -> list[Job]: ...

    async def record_post(self, job_id: str, platform: str, post: PostRef) -> None: ...

    async def posts(self, job_id: str) -> list[PostRef]: ...


class PreferenceRepository(Protocol):
    """Default options per scope (person, channel, workspace): the /settings command."""

    async def get(self, scope: str, scope_id: str) -> OptionOverrides: ...

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> list[OptionOverrides]: ...

    async def put(self, scope: str, scope_id: str, values: OptionOverrides, updated_by: str) -> None: ...


class IntakeRepository(Protocol):
    """Incoming requests, stored before they are acknowledged (see bot/intake.py)."""

    async def receive_many(self, requests: Sequence[IntakeRequest]) -> set[str]: ...

    async def get(self, key: str) -> IntakeRow | None: ...

    async def started(self, key: str) -> None: ...

    async def note(self, key: str, name: str, value: Any) -> None: ...

    async def finish(self, key: str, *, now: float | None = None) -> None: ...

    async def forget(self, key: str) -> None: ...

    async def unfinished(self, platform: str) -> list[IntakeRow]: ...

    async def forget_finished_before(self, cutoff: float) -> int: ...


class StyleRepository(Protocol):
    """House styles (bot/styles.py): names unique per scope whatever their case. `add` and
    `rename` answer False when the name is taken there, and store nothing."""

    async def visible(self, platform: str, workspace: str, person: str) -> list[Style]: ...

    async def add(
        self,
        scope: StyleScope,
        name: str,
        text: str,
        uploads: Sequence[StoredImage],
        image_ids: Sequence[str],
        created_by: str,
        now: float,
    ) -> bool: ...

    async def rename(self, style_id: int, name: str, now: float) -> bool: ...

    async def set_text(self, style_id: int, text: str, now: float) -> None: ...

    async def delete(self, style_id: int) -> None: ...


class TemplateRepository(Protocol):
    """Saved prompt templates, per shelf (a person's or the workspace's); names are unique per
    shelf without regard to case."""

    async def get(self, shelf: Shelf, name: str) -> Template | None: ...

    async def on_shelves(self, shelves: Sequence[Shelf]) -> list[Template]: ...

    async def add(self, shelf: Shelf, template: Template) -> bool: ...  # False: the name is taken

    async def rename(self, shelf: Shelf, old: str, new: str) -> Renamed: ...

    async def delete(self, shelf: Shelf, name: str) -> bool: ...


class SuggestionRepository(Protocol):
    """/describe's prompt suggestions, with the usage row of what writing them cost."""

    async def record(self, suggestions: Suggestions, usage: UsageRow | None = None) -> None: ...

    async def get(self, suggestions_id: str, *, within: SessionKey) -> Suggestions | None: ...


class Storage(Protocol):
    """Everything the core stores, in one handle."""

    @property
    def images(self) -> ImageRepository: ...

    @property
    def jobs(self) -> JobRepository: ...

    @property
    def preferences(self) -> PreferenceRepository: ...

    @property
    def intake(self) -> IntakeRepository: ...

    @property
    def blobs(self) -> BlobStorage: ...

    @property
    def styles(self) -> StyleRepository: ...

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def suggestions(self) -> SuggestionRepository: ...

    async def close(self) -> None: ...
