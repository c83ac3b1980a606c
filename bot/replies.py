"""Building what the core says back: captions, image views and the buttons under a result."""

from __future__ import annotations

from bot import exact_text, imaging
from bot.answers import Button, Caption, Images, ImageView, Problem
from bot.buttons import Verb
from bot.domain import ImageSet, Job, StoredImage
from bot.errors import BotError
from bot.ports import BlobStorage
from bot.text import display_text

EXTENSIONS = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpg"}


def set_buttons(image_set: ImageSet) -> tuple[Button, ...]:
    """U1..Un (select), V1..Vn (vary) and 🔄 (reroll) for a multi-image result."""
    count = len(image_set.image_ids)
    picks = [Button(Verb.U, image_set.id, f"U{k}", arg=str(k)) for k in range(1, count + 1)]
    varies = [Button(Verb.V, image_set.id, f"V{k}", arg=str(k)) for k in range(1, count + 1)]
    return (*picks, *varies, Button(Verb.REROLL, image_set.id, "🔄", style="primary"))


def image_buttons(image: StoredImage) -> tuple[Button, ...]:
    """The finishing buttons under a single image."""
    target = image.id
    return (
        Button(Verb.UPSCALE, target, "Upscale", style="primary"),
        Button(Verb.VARY_SUBTLE, target, "Vary (Subtle)"),
        Button(Verb.VARY_STRONG, target, "Vary (Strong)"),
        Button(Verb.EDIT, target, "Edit…"),
        Button(Verb.ZOOM, target, "Zoom out 1.5×", arg="1.5"),
        Button(Verb.ZOOM, target, "Zoom out 2×", arg="2"),
        *(Button(Verb.ASPECT, target, label, arg=aspect) for aspect, label in reframings(image)),
        Button(Verb.NOBG, target, "Remove background"),
        Button(Verb.UNDO, target, "Undo"),
        Button(Verb.DESCRIBE, target, "Describe"),
    )


REFRAMINGS = (("1:1", "Make square"), ("16:9", "Make 16:9"), ("9:16", "Make 9:16"))


def reframings(image: StoredImage) -> list[tuple[str, str]]:
    """The change-aspect buttons that would change something: not the image's own aspect."""
    ratio = image.width / image.height
    choices = []
    for aspect, label in REFRAMINGS:
        w, h = (int(part) for part in aspect.split(":"))
        if abs(ratio / (w / h) - 1) > 0.01:
            choices.append((aspect, label))
    return choices


def retry_buttons(job: Job) -> tuple[Button, ...]:
    return (Button(Verb.RETRY, job.id, "🔄 Retry", style="primary"),)


def cancel_button(job: Job) -> Button:
    """Under a queued job's status message."""
    return Button(Verb.CANCEL, job.id, "Cancel", style="danger")


def caption_for(image: StoredImage, requester_label: str) -> Caption:
    return Caption(
        short_id=image.id,
        prompt=exact_text.without_texts(image.prompt),
        model=image.params.model,
        size=image.size,
        requester=requester_label,
        label=image.label,
        texts=exact_text.found_in(image.prompt),
    )


def filename_for(image: StoredImage) -> str:
    return f"imagebot-{image.id}.{EXTENSIONS.get(image.mime, 'png')}"


async def view_of(image: StoredImage, blobs: BlobStorage) -> ImageView:
    data = await blobs.get(image.blob)
    return ImageView(image.id, filename_for(image), data, image.mime, image.width, image.height)


async def single_reply(
    image: StoredImage, blobs: BlobStorage, requester_label: str, headline: str, *, job_id: str | None = None
) -> Images:
    """One image at full resolution with its finishing buttons."""
    caption = caption_for(image, requester_label)
    return Images(
        text=f"{headline}\n{caption.render()}",
        caption=caption,
        images=(await view_of(image, blobs),),
        buttons=image_buttons(image),
        job_id=job_id,
    )


async def set_reply(
    image_set: ImageSet,
    images: list[StoredImage],
    blobs: BlobStorage,
    requester_label: str,
    headline: str,
    *,
    job_id: str | None = None,
) -> Images:
    """A grid preview of a set (image k is the k-th cell in reading order) and its buttons."""
    views = [await view_of(image, blobs) for image in images]
    # A set made of parts (a comparison) labels each cell and may say what could not be made.
    cells = tuple(display_text(image.params.cell_label or "", 100) for image in images)
    labels = cells if any(cells) else None
    grid_bytes, width, height = await imaging.offload(_grid_of, [v.data for v in views], labels)
    first = images[0]
    models = list(dict.fromkeys(image.params.model for image in images))
    sizes = list(dict.fromkeys(image.size for image in images))
    caption = Caption(
        short_id=image_set.id,
        prompt=exact_text.without_texts(image_set.prompt),
        model=" vs ".join(models),
        size=f"{len(images)}× {first.size}" if len(sizes) == 1 else f"{len(images)} images",
        requester=requester_label,
        label=first.label,
        texts=exact_text.found_in(image_set.prompt),
        cells=cells if labels else (),
    )
    if first.params.set_note:
        headline = f"{headline}\n{first.params.set_note}"
    name = f"imagebot-{image_set.id}-grid.{imaging.GRID_EXTENSION}"
    grid = ImageView(image_set.id, name, grid_bytes, imaging.GRID_MIME, width, height)
    return Images(
        text=f"{headline}\n{caption.render()}",
        caption=caption,
        grid=grid,
        images=tuple(views),
        buttons=set_buttons(image_set),
        job_id=job_id,
    )


def error_reply(error: BotError, *, public: bool = False) -> Problem:
    """A refusal, in the words of the error (only for the person who asked, unless `public`)."""
    return Problem(error.kind, error.message, public=public)


def _grid_of(images: list[bytes], labels: tuple[str, ...] | None = None) -> tuple[bytes, int, int]:
    """The set's grid with its width and height (one trip to the imaging pool)."""
    grid = imaging.make_grid(images, labels=labels) if labels else imaging.make_grid(images)
    _, width, height = imaging.probe(grid)
    return grid, width, height
