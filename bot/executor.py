"""Running one job: turn its stored spec into provider calls, store the results, build the reply."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from bot import imaging, sizes
from bot.answers import Images
from bot.costs import estimate_cost
from bot.domain import ImageSet, Job, Operation, StoredImage, Usage
from bot.errors import BotError, ErrorKind
from bot.job_events import Progress
from bot.model_catalog import model_info
from bot.part_runs import PartRunner
from bot.ports import Storage
from bot.providers.base import GeneratedImage, InputImage, Provider, ProviderRequest, ProviderResult
from bot.records import ImageParams, UsageRow
from bot.replies import EXTENSIONS, set_reply, single_reply
from bot.retry import persist

log = logging.getLogger(f"imagebot.{__name__}")

LOCAL_RESAMPLE = "local resample"

# What the model is asked for each button. The stored prompt stays the user's own words; the
# instruction actually sent is kept in the image's params.
INSTRUCTIONS: dict[Operation, str] = {
    Operation.VARY_SUBTLE: (
        "Create a subtle variation of this image. Keep the subject, composition, colours and style; "
        "change only small details. The image shows: {prompt}"
    ),
    Operation.VARY_STRONG: (
        "Create a new variation of this image: the same subject and idea, but a clearly different "
        "composition, pose, lighting and details. The image shows: {prompt}"
    ),
    Operation.UPSCALE: (
        "Re-render this exact image at a higher resolution with finer detail. Keep the composition, "
        "colours, faces and any text exactly the same."
    ),
    Operation.ZOOM_OUT: (
        "Zoom out: extend the image into the transparent area around it, continuing the scene "
        "seamlessly in the same style and lighting. The image shows: {prompt}"
    ),
    Operation.ASPECT: (
        "Extend the image into the transparent area to fill the new frame, continuing the scene "
        "seamlessly in the same style and lighting. The image shows: {prompt}"
    ),
    Operation.REMOVE_BG: (
        "Remove the background entirely, leaving only the main subject, unchanged, on a fully "
        "transparent background."
    ),
    # A blend's stored prompt says how many images and what the person asked ("blend of 3
    # images: …"), so a reroll sends the same instruction with the same inputs.
    Operation.BLEND: (
        "Combine the input images, taken in the order given, into one coherent new image: a single "
        "scene with one consistent style and lighting, not a collage or a side-by-side. Request: {prompt}"
    ),
}

HEADLINES: dict[Operation, str] = {
    Operation.IMAGINE: "🎨 Here you go",
    Operation.REROLL: "🔄 Rerolled",
    Operation.EDIT: "✏️ Edited",
    Operation.VARY_SUBTLE: "🌱 Subtle variations",
    Operation.VARY_STRONG: "🌪️ Strong variations",
    Operation.UPSCALE: "🔍 Upscaled",
    Operation.ZOOM_OUT: "🔭 Zoomed out",
    Operation.ASPECT: "📐 Reframed",
    Operation.REMOVE_BG: "✂️ Background removed",
    Operation.BLEND: "🧬 Blended",
}


@dataclass(frozen=True)
class Made:
    """A job's results, stored and recorded: what its reply is built from once its provider
    slot is free (reading the images back and making the grid are not the provider's work)."""

    job: Job
    images: tuple[StoredImage, ...]
    image_set: ImageSet | None
    headline: str


@dataclass(frozen=True)
class Plan:
    """How a job will be made: a provider call, or a local resample where the model can't go larger."""

    request: ProviderRequest | None
    local_size: tuple[int, int] | None = None
    note: str | None = None


class Executor:
    def __init__(
        self,
        store: Storage,
        provider: Provider,
        prices_for: Callable[[str], dict[str, float]],
        new_id: Callable[[], str],
        clock: Callable[[], float] = time.time,
        *,
        storage_patience: float = 60.0,
        provider_retry_delay: float | None = 2.0,
    ) -> None:
        self.store = store
        self.provider = provider
        self.prices_for = prices_for
        self.new_id = new_id
        self.clock = clock
        self.storage_patience = storage_patience
        self.provider_retry_delay = provider_retry_delay
        self.parts = PartRunner(
            store,
            provider.name,
            provider.label,
            prices_for,
            new_id,
            clock,
            self._generate,
            storage_patience=storage_patience,
        )

    async def __call__(self, job: Job, progress: Progress) -> Callable[[], Awaitable[Images]]:
        """Run the job to its stored results; returns how to build its reply (called once the
        job's slot is free)."""
        return functools.partial(self.reply, await self.make(job, progress))

    async def make(self, job: Job, progress: Progress) -> Made:
        if job.spec.parts:  # several different requests, one image each, as one set
            made = await self.parts.make(job, progress)
            return Made(job, made.images, made.image_set, HEADLINES[job.spec.operation])
        sources = []
        for image_id in job.spec.sources:
            image = await self.store.images.image(image_id, within=job.where)
            if image is None:
                raise BotError(ErrorKind.NOT_FOUND, f"Image `{image_id}` is no longer stored.")
            sources.append(image)
        plan = await self.plan(job, sources)
        if plan.request is None:
            if plan.local_size is None:
                raise RuntimeError(f"job {job.id}: a plan without a provider request has no local size")
            data = await self.store.blobs.get(sources[0].blob)
            resized = await imaging.offload(imaging.resample, data, *plan.local_size)
            result = ProviderResult(
                images=(GeneratedImage(resized, "image/png", *plan.local_size),), label=LOCAL_RESAMPLE
            )
        else:
            result = await self._generate(job, plan.request, progress)
        return await self._store(job, plan, result, sources)

    async def _generate(self, job: Job, request: ProviderRequest, progress: Progress) -> ProviderResult:
        """The provider call, with one more attempt after a transient failure (a connection
        reset or a 5xx mid-stream), so a single network hiccup does not fail the job."""
        try:
            return await self.provider.run(request, on_partial=progress.partial)
        except BotError as error:
            if error.kind is not ErrorKind.UNAVAILABLE or self.provider_retry_delay is None:
                raise
            log.info("job %s [%s]: %s; one more attempt", job.id, job.where.platform, error.message)
            await asyncio.sleep(self.provider_retry_delay)
            return await self.provider.run(request, on_partial=progress.partial)

    async def plan(self, job: Job, sources: list[StoredImage]) -> Plan:
        """The provider call for a job. Sizes were settled when it was queued (spec.options)."""
        spec = job.spec
        op = spec.operation

        def request(
            kind: Literal["generate", "edit"],
            prompt: str,
            images: tuple[InputImage, ...] = (),
            mask: InputImage | None = None,
        ) -> ProviderRequest:
            return ProviderRequest(
                kind=kind,
                prompt=prompt,
                options=spec.options,
                images=images,
                mask=mask,
                safety_identifier=job.requester.safety_identifier,
                variation_key=job.id,
            )

        if op in (Operation.IMAGINE, Operation.REROLL) and not sources:
            return Plan(request("generate", spec.prompt))
        inputs = tuple([await self._input(image) for image in sources])
        if op in (Operation.IMAGINE, Operation.REROLL, Operation.EDIT):
            mask = None
            if spec.mask_blob:
                mask = InputImage("mask.png", await self.store.blobs.get(spec.mask_blob), "image/png")
            return Plan(request("edit", spec.prompt, inputs, mask))
        instruction = INSTRUCTIONS[op].format(prompt=spec.prompt)
        if op is Operation.BLEND:  # every input, in order, not just the primary image
            return Plan(request("edit", instruction, inputs))
        source = sources[0]
        info = model_info(spec.options.model)
        if info is None:
            raise RuntimeError(f"model {spec.options.model!r} of a stored job is not in the model table")
        if op is Operation.UPSCALE and sizes.upscale_target(source.width, source.height, info) is None:
            return Plan(
                None,
                local_size=spec.options.dimensions(),
                note="the model cannot render larger, so this is a local resample",
            )
        if op in (Operation.ZOOM_OUT, Operation.ASPECT):
            if op is Operation.ZOOM_OUT:
                placement = sizes.zoom_placement(source.width, source.height, spec.zoom or 2.0, info)
            else:
                placement = sizes.aspect_placement(source.width, source.height, spec.aspect or "1:1", info)
            canvas, mask_png = await imaging.offload(imaging.outpaint_inputs, inputs[0].data, placement)
            return Plan(
                request(
                    "edit",
                    instruction,
                    (InputImage("canvas.png", canvas, "image/png"),),
                    InputImage("mask.png", mask_png, "image/png"),
                )
            )
        return Plan(request("edit", instruction, inputs[:1]))

    async def _input(self, image: StoredImage) -> InputImage:
        data = await self.store.blobs.get(image.blob)
        return InputImage(f"{image.id}.{EXTENSIONS.get(image.mime, 'png')}", data, image.mime)

    async def _store(self, job: Job, plan: Plan, result: ProviderResult, sources: list[StoredImage]) -> Made:
        spec = job.spec
        now = self.clock()
        model = spec.options.model
        usage = result.usage or Usage()
        cost = estimate_cost(result.usage, self.prices_for(model)) if result.usage else 0.0
        count = len(result.images)
        set_id = self.new_id() if count > 1 else None
        label = result.label or self.provider.label
        # A local resample says so, never the provider's label (it did not make this image).
        if plan.request is None:
            label = result.label
        facts = {
            "n": count,
            "provider": self.provider.name,
            "requester_name": job.requester.label,
            "instruction": plan.request.prompt
            if plan.request and plan.request.prompt != spec.prompt
            else None,
            # an upscale's variations are not rendered (and paid) at its size
            "upscaled": _keeps_upscale(spec.operation, sources),
            "zoom": spec.zoom or None,
            "aspect": spec.aspect or None,
        }
        params = ImageParams(**(dataclasses.asdict(spec.options) | facts))
        stored: list[StoredImage] = []
        for index, generated in enumerate(result.images, start=1):
            # The file exists before any row names it; the image is paid for, so a full disk
            # is waited out (for a while) rather than the image thrown away.
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
                    operation=spec.operation,
                    prompt=spec.prompt,
                    params=params,
                    requester=job.requester.key,
                    created_at=now,
                    parents=spec.sources,
                    set_id=set_id,
                    set_index=index if set_id else None,
                    revised_prompt=generated.revised_prompt,
                    input_tokens=usage.input_tokens // count,
                    output_tokens=usage.output_tokens // count,
                    cost_usd=round(cost / count, 6),
                    label=label,
                )
            )
        image_set = (
            ImageSet(
                set_id,
                job.session_id,
                spec.operation,
                spec.prompt,
                tuple(i.id for i in stored),
                job.requester.key,
                now,
                job.id,
            )
            if set_id
            else None
        )
        session = await self.store.images.session(job.session_id)
        usage_row = UsageRow(
            job.id,
            job.where.platform,
            job.where.workspace,
            job.requester.key,
            model,
            count,
            usage.input_tokens,
            usage.output_tokens,
            cost,
        )
        await persist(
            lambda: self.store.jobs.complete(
                job,
                stored,
                image_set,
                usage_row,
                current_image_id=stored[0].id if image_set is None else session.current_image_id,
                awaiting_pick=image_set is not None,
            ),
            patience=self.storage_patience,
            what=f"job {job.id}: recording its results",
        )
        headline = HEADLINES[spec.operation]
        if plan.note:
            headline += f" ({plan.note})"
        return Made(job, tuple(stored), image_set, headline)

    async def reply(self, made: Made) -> Images:
        """The result as people see it: the images read back from the blob store (only now, so
        a job's bytes are not held while it waits to be posted) and, for a set, its grid."""
        job = made.job
        if made.image_set is not None:
            return await set_reply(
                made.image_set,
                list(made.images),
                self.store.blobs,
                job.requester.label,
                made.headline,
                job_id=job.id,
            )
        return await single_reply(
            made.images[0], self.store.blobs, job.requester.label, made.headline, job_id=job.id
        )


def _keeps_upscale(op: Operation, sources: list[StoredImage]) -> bool:
    """Whether a result is an upscale or keeps one's size (edits, zoom, reframe, cut-out)."""
    if op is Operation.UPSCALE:
        return True
    first = sources[0] if sources else None
    inherits = op in (Operation.EDIT, Operation.ZOOM_OUT, Operation.ASPECT, Operation.REMOVE_BG)
    return bool(inherits and first and (first.operation is Operation.UPSCALE or first.params.upscaled))
