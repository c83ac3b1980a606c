"""What the core says about a job: queued, failed, or its finished images, also after a restart."""

from __future__ import annotations

from collections.abc import Callable

from bot.answers import Button, Images, JobFailed, Queued
from bot.domain import Job, JobStatus
from bot.errors import BotError, ErrorKind
from bot.executor import HEADLINES
from bot.lookup import members_of, requester_label
from bot.parts import describe
from bot.ports import Storage
from bot.replies import cancel_button, retry_buttons, set_reply, single_reply


def describe_failure(job: Job, error: BotError) -> JobFailed:
    text = f"❌ Job `{job.id}` failed: {error.message}"
    buttons: tuple[Button, ...] = retry_buttons(job) if error.kind.retryable else ()
    return JobFailed(job.id, error.kind, text, buttons)


def queued_reply(job: Job, position: int, note: str | None = None) -> Queued:
    options = job.spec.options
    cost = f", up to ~${job.reserved_usd:.2f}" if job.reserved_usd >= 0.005 else ""
    where = "starting now" if position == 0 else f"#{position} in line"
    made = describe(job.spec.parts) if job.spec.parts else f"{count(options.n, 'image')}, {options.model}"
    text = f"⏳ Job `{job.id}`: {made}, {options.size}{cost} — {where}."
    return Queued(job, position, text + (f"\n{note}" if note else ""), buttons=(cancel_button(job),))


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


class Outcomes:
    """Finished jobs whose outcome a platform still owes (see `undelivered`, `unfinalised`)."""

    def __init__(self, store: Storage, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    async def undelivered(self, platform: str, within: float) -> list[tuple[Job, Images | JobFailed]]:
        """Outcomes of the last `within` seconds that were recorded but never posted (results, and
        failure messages with their Retry button), so an adapter can deliver them after a restart
        (at least once, never lost)."""
        return await self._with_outcomes(await self.store.jobs.undelivered(platform, self.clock() - within))

    async def unfinalised(self, platform: str, within: float) -> list[tuple[Job, Images | JobFailed]]:
        """Jobs of the last `within` seconds whose outcome was posted but whose status message
        was never brought to its end, with their outcomes (for the "✅ Done…" line)."""
        return await self._with_outcomes(await self.store.jobs.unfinalised(platform, self.clock() - within))

    async def _with_outcomes(self, jobs: list[Job]) -> list[tuple[Job, Images | JobFailed]]:
        """Each finished job with its outcome as posted (result or failure message)."""
        found = []
        for job in jobs:
            reply = await self.result_of(job)
            if reply is not None:
                found.append((job, reply))
        return found

    async def result_of(self, job: Job) -> Images | JobFailed | None:
        if job.status is JobStatus.FAILED:
            kind = job.error_kind or ErrorKind.INTERNAL
            return describe_failure(job, BotError(kind, job.error_message or "Something went wrong."))
        headline = HEADLINES[job.spec.operation]
        images = self.store.images
        image_set = await images.image_set(job.result_set_id or "", within=job.where)
        if image_set is not None:
            members = await members_of(images, image_set, job.where)
            label = requester_label(members[0])
            return await set_reply(image_set, members, self.store.blobs, label, headline, job_id=job.id)
        image = await images.image(job.result_set_id or "", within=job.where)
        if image is None:
            return None
        return await single_reply(image, self.store.blobs, requester_label(image), headline, job_id=job.id)
