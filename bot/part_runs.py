"""Making a job of several different requests (parts, bot/parts.py): each part is one provider
request (n=1), all sent at once within the job's one slot, and stored as one set whose grid
labels each cell (its label, price and seconds taken).

One part failing does not sink the others: the set shows what was made, with a note naming what
failed and why. Only when every part fails does the job fail (nothing was made to show).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.costs import estimate_cost
from bot.domain import ImageSet, Job, JobPart, StoredImage, Usage
from bot.errors import BotError
from bot.job_events import Progress
from bot.parts import models_of
from bot.ports import Storage
from bot.providers.base import ProviderRequest, ProviderResult
from bot.records import ImageParams, UsageRow
from bot.retry import persist
from bot.text import display_text

log = logging.getLogger(f"imagebot.{__name__}")

Generate = Callable[[Job, ProviderRequest, Progress], Awaitable[ProviderResult]]


@dataclass(frozen=True)
class PartDone:
    """What one part came to: its images, or why it failed; and how long it took."""

    index: int  # 1-based place among the job's parts
    part: JobPart
    result: ProviderResult | None
    error: BotError | None
    seconds: float


@dataclass(frozen=True)
class PartsMade:
    images: tuple[StoredImage, ...]
    image_set: ImageSet


class PartRunner:
    def __init__(
        self,
        store: Storage,
        provider_name: str,
        provider_label: str | None,
        prices_for: Callable[[str], dict[str, float]],
        new_id: Callable[[], str],
        clock: Callable[[], float],
        generate: Generate,
        *,
        storage_patience: float = 60.0,
    ) -> None:
        self.store = store
        self.provider_name = provider_name
        self.provider_label = provider_label
        self.prices_for = prices_for
        self.new_id = new_id
        self.clock = clock
        self.generate = generate
        self.storage_patience = storage_patience

    async def make(self, job: Job, progress: Progress) -> PartsMade:
        """Every part at once; the made ones stored as one set (see the module doc)."""
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self._one(job, index, part, progress))
                for index, part in enumerate(job.spec.parts, start=1)
            ]
        done = [task.result() for task in tasks]
        made = [d for d in done if d.result is not None and d.result.images]
        failed = [d for d in done if d.error is not None]
        if not made:
            first = failed[0].error if failed else None
            if first is None:
                raise RuntimeError(f"job {job.id}: no part made an image and none failed")
            reasons = "; ".join(f"{d.part.label}: {d.error.message}" for d in failed if d.error)
            raise BotError(first.kind, f"nothing was made ({reasons})", category=first.category)
        note = "\n".join(
            f"⚠️ {display_text(d.part.label, 60)} failed: {d.error.message}" for d in failed if d.error
        )
        return await self._store(job, made, note or None)

    async def _one(self, job: Job, index: int, part: JobPart, progress: Progress) -> PartDone:
        request = ProviderRequest(
            kind="generate",
            prompt=part.prompt,
            options=part.options,
            safety_identifier=job.requester.safety_identifier,
            variation_key=f"{job.id}:{index}",
        )
        # Seconds taken, for the cell's label: a duration, so the monotonic clock, not the wall's.
        started = time.monotonic()
        try:
            result = await self.generate(job, request, progress)
        except BotError as error:
            log.info("job %s [%s]: part %d failed: %s", job.id, job.where.platform, index, error.kind.value)
            return PartDone(index, part, None, error, time.monotonic() - started)
        return PartDone(index, part, result, None, time.monotonic() - started)

    async def _store(self, job: Job, made: list[PartDone], note: str | None) -> PartsMade:
        now = self.clock()
        set_id = self.new_id()
        count = sum(len(d.result.images) for d in made if d.result)
        stored: list[StoredImage] = []
        total_usage, total_cost = Usage(), 0.0
        for done in made:
            result = done.result
            if result is None:
                continue
            usage = result.usage or Usage()
            cost = (
                estimate_cost(result.usage, self.prices_for(done.part.options.model)) if result.usage else 0.0
            )
            total_usage, total_cost = total_usage + usage, total_cost + cost
            cell = f"{done.part.label} · ~${cost:.2f} · {done.seconds:.1f}s"
            facts = {
                "n": count,
                "provider": self.provider_name,
                "requester_name": job.requester.label,
                "cell_label": cell,
                "set_note": note,
            }
            params = ImageParams(**(dataclasses.asdict(done.part.options) | facts))
            per_image = len(result.images)
            for generated in result.images:
                blob = await persist(
                    functools.partial(self.store.blobs.put, generated.data),
                    patience=self.storage_patience,
                    what=f"job {job.id}: saving an image",
                )
                stored.append(
                    StoredImage(
                        id=self.new_id(),
                        session_id=job.session_id,
                        blob=blob,
                        mime=generated.mime,
                        width=generated.width,
                        height=generated.height,
                        operation=job.spec.operation,
                        prompt=done.part.prompt,
                        params=params,
                        requester=job.requester.key,
                        created_at=now,
                        set_id=set_id,
                        set_index=len(stored) + 1,
                        revised_prompt=generated.revised_prompt,
                        input_tokens=usage.input_tokens // per_image,
                        output_tokens=usage.output_tokens // per_image,
                        cost_usd=round(cost / per_image, 6),
                        label=result.label or self.provider_label,
                    )
                )
        image_set = ImageSet(
            set_id,
            job.session_id,
            job.spec.operation,
            job.spec.prompt,
            tuple(i.id for i in stored),
            job.requester.key,
            now,
            job.id,
        )
        usage_row = UsageRow(
            job.id,
            job.where.platform,
            job.where.workspace,
            job.requester.key,
            ",".join(models_of(job.spec.parts)),
            len(stored),
            total_usage.input_tokens,
            total_usage.output_tokens,
            round(total_cost, 6),
        )
        session = await self.store.images.session(job.session_id)
        await persist(
            lambda: self.store.jobs.complete(
                job,
                stored,
                image_set,
                usage_row,
                # One image left (the other models failed): it is the one a reply edits.
                current_image_id=stored[0].id if len(stored) == 1 else session.current_image_id,
                awaiting_pick=len(stored) > 1,
            ),
            patience=self.storage_patience,
            what=f"job {job.id}: recording its results",
        )
        return PartsMade(tuple(stored), image_set)
