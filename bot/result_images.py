"""Turning what a provider made into stored images: each file saved before any row names it, and
each image's share of what the request cost. One rule for a plain job and for each part of a set."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain import Job, StoredImage, Usage
from bot.ports import Storage
from bot.providers.base import ProviderResult
from bot.records import ImageParams
from bot.retry import persist


@dataclass(frozen=True)
class ImageFacts:
    """What every image of one provider result shares."""

    prompt: str
    params: ImageParams
    created_at: float
    usage: Usage
    cost_usd: float
    label: str | None
    parents: tuple[str, ...] = ()


async def keep_images(
    store: Storage,
    job: Job,
    result: ProviderResult,
    facts: ImageFacts,
    *,
    new_id: Callable[[], str],
    set_id: str | None,
    first_index: int,
    patience: float,
) -> list[StoredImage]:
    """The result's images saved (blobs) and described (rows not yet written): the k-th gets
    set index `first_index + k` when it belongs to a set."""
    count = len(result.images)
    kept: list[StoredImage] = []
    for offset, generated in enumerate(result.images):
        # The file exists before any row names it; the image is paid for, so a full disk is
        # waited out (for a while) rather than the image thrown away.
        blob = await persist(
            functools.partial(store.blobs.put, generated.data),
            patience=patience,
            what=f"job {job.id}: saving an image",
        )
        kept.append(
            StoredImage(
                id=new_id(),
                session_id=job.session_id,
                blob=blob,
                mime=generated.mime,
                width=generated.width,
                height=generated.height,
                operation=job.spec.operation,
                prompt=facts.prompt,
                params=facts.params,
                requester=job.requester.key,
                created_at=facts.created_at,
                parents=facts.parents,
                set_id=set_id,
                set_index=first_index + offset if set_id else None,
                revised_prompt=generated.revised_prompt,
                input_tokens=facts.usage.input_tokens // count,
                output_tokens=facts.usage.output_tokens // count,
                cost_usd=round(facts.cost_usd / count, 6),
                label=facts.label,
            )
        )
    return kept
