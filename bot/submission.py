"""Submitting a job: check the limits, store the uploads, record and queue it, once per request.

Validation is all done before anything is stored, so a refused request leaves nothing behind;
handled again after a crash (the same current intake key), a request whose job was already
recorded gets that job back: one request never makes, or pays for, two jobs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator, Sequence

from bot import imaging
from bot.answers import Queued
from bot.buttons import ButtonId, Verb
from bot.domain import (
    Attachment,
    ImageOptions,
    Job,
    JobPart,
    JobSpec,
    JobStatus,
    Operation,
    Session,
    SessionKey,
    StoredImage,
    UserRef,
)
from bot.errors import BotError, ErrorKind, invalid, storage_error
from bot.intake import current_intake_key
from bot.jobs import JobRunner
from bot.lookup import image_here
from bot.parts import check_parts, parts_estimate
from bot.policy import Policy
from bot.ports import Storage
from bot.records import ImageParams
from bot.text import display_text

log = logging.getLogger(f"imagebot.{__name__}")

OpenSession = Callable[[], Awaitable[SessionKey]]
Upload = tuple[Attachment, imaging.DecodedImage]
MAX_REFERENCES = 15  # the API takes up to 16 images per edit; the primary image is one of them


def new_id() -> str:
    """A short id people can type: 8 hex characters."""
    return secrets.token_hex(4)


def upload_record(
    session_id: int,
    actor: UserRef,
    attachment: Attachment,
    decoded: imaging.DecodedImage,
    blob: str,
    created_at: float,
) -> StoredImage:
    """The stored image of an upload (its bytes already in the blob store as `blob`)."""
    return StoredImage(
        id=new_id(),
        session_id=session_id,
        blob=blob,
        mime=decoded.mime,
        width=decoded.width,
        height=decoded.height,
        operation=Operation.UPLOAD,
        prompt=attachment.filename,
        params=ImageParams(filename=attachment.filename, requester_name=actor.label),
        requester=actor.key,
        created_at=created_at,
    )


@dataclasses.dataclass(frozen=True)
class Request:
    """One job to submit: what to do, with what options and inputs."""

    op: Operation
    prompt: str
    chosen: ImageOptions
    sources: tuple[str, ...] = ()  # stored images sent as inputs, the primary first
    uploads: Sequence[Upload] = ()  # decoded uploads, stored only once the job is accepted
    styled: tuple[str, ...] = ()  # a house style's images, sent after the request's own (bot.style_apply)
    mask_png: bytes | None = None
    origin: str | None = None  # the button that asked, so a second press finds the same job
    note: str | None = None  # said under the queued line (e.g. why the size differs from the upload's)
    zoom: float | None = None
    aspect: str | None = None
    # Several different requests as one set (bot/parts.py); `chosen` is then parts.set_options.
    parts: tuple[JobPart, ...] = ()


class Submitter:
    def __init__(self, store: Storage, runner: JobRunner, policy: Policy, clock: Callable[[], float]) -> None:
        self.store = store
        self.runner = runner
        self.policy = policy
        self.clock = clock

    async def submit(
        self, actor: UserRef, where: SessionKey, request: Request, open_session: OpenSession | None = None
    ) -> Queued:
        """Check limits, store uploads, record and queue the job (see the module doc)."""
        earlier = await self.job_of_this_request()
        if earlier is not None:
            return await self.runner.announce(earlier, request.note)
        chosen = request.chosen
        parts_cost = check_parts(self.policy, actor, request.parts) if request.parts else None
        if parts_cost is None:
            self.policy.check_role(actor, chosen)
        await self.policy.check_quota(actor, chosen.n)
        self.runner.check_capacity(actor)  # before storing uploads, so a refusal leaves nothing
        inputs = [(d.width, d.height) for _, d in request.uploads] + [
            (image.width, image.height)
            for image in [
                await image_here(self.store.images, i, where) for i in (*request.sources, *request.styled)
            ]
        ]
        if parts_cost is None:
            reserve = self.policy.estimate(chosen, request.op, request.prompt, inputs)
        else:
            reserve = parts_cost
        limits = self.policy.spend_limits(actor, where)
        await self.policy.check_budgets(limits, reserve)  # again, atomically, when the job is recorded
        if open_session is not None:
            where = await open_session()
        with storage_faults_answered(where):
            session = await self.store.images.session_for(where)
            uploaded = [await self._store_upload(session, actor, a, d) for a, d in request.uploads]
            mask_blob = await self.store.blobs.put(request.mask_png) if request.mask_png is not None else None
            spec = JobSpec(
                operation=request.op,
                prompt=request.prompt,
                options=chosen,
                sources=(*request.sources, *uploaded, *request.styled),
                mask_blob=mask_blob,
                zoom=request.zoom,
                aspect=request.aspect,
                parts=request.parts,
            )
            job = self._new_job(session.id, where, actor, spec, reserve)
            queued = await self.runner.submit(job, origin=request.origin, limits=limits, note=request.note)
            log.info("job %s [%s] queued: %s", job.id, where.platform, request.op.value)
            return queued

    async def retry(self, actor: UserRef, where: SessionKey, job_id: str) -> Queued:
        """Retry: the failed job's request again, as a new job."""
        job = await self.store.jobs.get(job_id, within=where)
        if job is None:
            raise BotError(ErrorKind.NOT_FOUND, f"Job `{job_id}` is not stored here.")
        if job.status is not JobStatus.FAILED:
            raise invalid(f"Job `{job_id}` is {job.status.value}; only failed jobs can be retried.")
        if job.requester.key != actor.key and not actor.is_admin:
            raise BotError(ErrorKind.FORBIDDEN, f"Only {job.requester.label} or an admin can retry this job.")
        earlier = await self.job_of_this_request()
        if earlier is not None:
            return await self.runner.announce(earlier)
        await self.policy.check_quota(actor, job.spec.options.n)
        if job.spec.parts:
            reserve = parts_estimate(self.policy, job.spec.parts)
        else:
            sources = [await image_here(self.store.images, s, job.where) for s in job.spec.sources]
            inputs = [(i.width, i.height) for i in sources]
            reserve = self.policy.estimate(job.spec.options, job.spec.operation, job.spec.prompt, inputs)
        retry = self._new_job(job.session_id, job.where, job.requester, job.spec, reserve)
        limits = self.policy.spend_limits(job.requester, job.where)
        return await self.runner.submit(retry, origin=ButtonId(Verb.RETRY, job_id).encode(), limits=limits)

    def _new_job(
        self, session_id: int, where: SessionKey, requester: UserRef, spec: JobSpec, reserve: float
    ) -> Job:
        """A job to queue, tied to the request being handled (one request, at most one job)."""
        return Job(
            id=new_id(),
            session_id=session_id,
            where=where,
            requester=requester,
            spec=spec,
            status=JobStatus.QUEUED,
            created_at=self.clock(),
            reserved_usd=reserve,
            intake_key=current_intake_key.get(),
        )

    async def job_of_this_request(self) -> Job | None:
        """The job already made for the request being handled, when it is handled again after
        a crash (see bot.intake): that job is answered instead of making a second one."""
        key = current_intake_key.get()
        earlier = await self.store.jobs.by_intake_key(key) if key is not None else None
        if earlier is not None:
            log.info(
                "job %s [%s]: its request was handled again; not repeated", earlier.id, earlier.where.platform
            )
        return earlier

    async def _store_upload(
        self, session: Session, actor: UserRef, attachment: Attachment, decoded: imaging.DecodedImage
    ) -> str:
        blob = await self.store.blobs.put(decoded.data)
        image = upload_record(session.id, actor, attachment, decoded, blob, self.clock())
        await self.store.images.add_upload(image)
        return image.id


async def decode_all(attachments: Sequence[Attachment]) -> list[Upload]:
    """Every upload checked and cleaned (see imaging.decode_upload), or a clear refusal."""
    if len(attachments) > MAX_REFERENCES + 1:
        raise invalid(f"Too many images: send at most {MAX_REFERENCES + 1} at once.")
    decoded = []
    for attachment in attachments:
        result = await imaging.offload(imaging.decode_upload, attachment.data, attachment.filename)
        decoded.append((attachment, result))
    return decoded


def size_note(filename: str, upload: imaging.DecodedImage, chosen: ImageOptions) -> str | None:
    """Why the result cannot have the uploaded image's own size (the model's size rules), if so."""
    own = f"{upload.width}x{upload.height}"
    if chosen.size in (own, "auto"):
        return None
    return (
        f"{display_text(filename, 60)} is {own}; {chosen.model} cannot make exactly that size,"
        f" so the result will be {chosen.size}."
    )


@contextlib.contextmanager
def storage_faults_answered(where: SessionKey, what: str = "your request") -> Iterator[None]:
    """What cannot be stored (full disk, locked database) is answered in plain words, naming
    `what`, instead of crashing the adapter's handler; every other error passes through."""
    try:
        yield
    except Exception as exc:
        error = storage_error(exc)  # None for every other error, BotErrors included
        if error is None:
            raise
        log.warning("%s [%s] could not be stored: %s", what, where.platform, exc)
        raise BotError(error.kind, error.message.replace("the result", what)) from exc
