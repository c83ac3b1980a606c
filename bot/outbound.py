"""What goes out to a chat, decided once for every platform: a result's files, notes and text,
and the wording of a job's progress.

An adapter describes its platform with `Limits` (bytes per upload, files per message,
characters per message) and says how it writes a note line; `plan_message` decides which files
to upload (a set's grid, else its images), fits each under the byte limit, says in notes what
was shrunk or left out, and trims the text so it fits with its notes kept whole. `Progress`
words a job's updates (queued, working, partial previews, done, failed, cancelled). Adapters
translate these plans to their APIs and nothing more.

The plans take plain pieces (text, grid, images, notes), not an `Outcome`, so they do not depend
on how the core happens to carry a result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot import imaging
from bot.answers import Button, Images, ImageView, JobUpdate, Stage
from bot.buttons import Verb


@dataclass(frozen=True)
class Limits:
    """What one platform takes in one message. None: no limit."""

    upload_bytes: int | None = None  # per file
    files: int | None = None  # files per message
    text: int | None = None  # characters of message text
    # Send a set's images beside its grid (the console writes every image it shows to disk);
    # elsewhere the grid alone stands for the set and U1…Un bring each image.
    set_images: bool = False


@dataclass(frozen=True)
class Upload:
    """One file to send: the image's bytes, re-encoded under the limit when they had to be."""

    view: ImageView  # what it shows (id, size); its bytes may differ from `data`
    filename: str
    data: bytes = field(repr=False)
    mime: str
    grid: bool = False  # the preview grid of a set
    reencoded: bool = False


@dataclass(frozen=True)
class MessagePlan:
    """A message ready to send: its text (notes included, trimmed to the limit), its files, and
    the notes on their own (already part of `text`)."""

    text: str
    files: tuple[Upload, ...] = ()
    notes: tuple[str, ...] = ()


def trim(text: str, limit: int | None) -> str:
    """`text` cut to `limit` characters, ending in "…" when it was cut."""
    if limit is None or len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def compose(text: str, notes: Sequence[str], limit: int | None, note: Callable[[str], str] = str) -> str:
    """`text` and a line per note (written by `note`, the platform's way to show one), within
    `limit` characters. The text is trimmed first: a note says what happened to the files, so
    it stays whole unless the notes alone are too long."""
    lines = "".join("\n" + note(n) for n in notes)
    if limit is None or len(text) + len(lines) <= limit:
        return text + lines
    if len(lines) < limit:
        return trim(text, limit - len(lines)) + lines
    return trim(text + lines, limit)


def views_to_upload(
    grid: ImageView | None, images: Sequence[ImageView], *, set_images: bool = False
) -> tuple[ImageView, ...]:
    """What a result shows as files: a set's grid (and its images too with `set_images`), else
    its image(s)."""
    if grid is None:
        return tuple(images)
    return (grid, *images) if set_images else (grid,)


def file_stem(filename: str) -> str:
    """A file's name without its extension: what an upload keeps of its image's file name when it
    is re-encoded, so a file already sent is recognised whatever format it went in."""
    return filename.rsplit(".", 1)[0]


def fit(view: ImageView, limit: int | None, *, grid: bool = False) -> tuple[Upload, str | None]:
    """`view` as an upload under `limit` bytes, and the note to show when it was re-encoded
    (the file then takes the new format's extension). ValueError when it cannot fit at all.
    CPU-bound: call it in a worker thread."""
    if limit is None:
        return Upload(view, view.filename, view.data, view.mime, grid=grid), None
    fitted = imaging.fit_under(view.data, view.mime, limit)
    name = view.filename
    if fitted.reencoded:
        name = f"{file_stem(name)}.{fitted.extension}"
    upload = Upload(view, name, fitted.data, fitted.mime, grid=grid, reencoded=fitted.reencoded)
    return upload, fitted.note if fitted.reencoded else None


def plan_uploads(
    grid: ImageView | None, images: Sequence[ImageView], limits: Limits
) -> tuple[tuple[Upload, ...], tuple[str, ...]]:
    """The files to send for a result and the notes saying what was shrunk or left out.
    CPU-bound (re-encoding): call it in a worker thread."""
    views = views_to_upload(grid, images, set_images=limits.set_images)
    notes: list[str] = []
    if limits.files is not None and len(views) > limits.files:
        left = len(views) - limits.files
        views = views[: limits.files]
        notes.append(
            f"{left} more {'image is' if left == 1 else 'images are'} not attached: "
            f"a message here holds at most {limits.files} files."
        )
    uploads: list[Upload] = []
    for view in views:
        try:
            upload, note = fit(view, limits.upload_bytes, grid=view is grid)
        except ValueError:
            notes.append(f"{view.filename} is too large to upload here even re-encoded.")
            continue
        uploads.append(upload)
        if note:
            notes.append(note)
    return tuple(uploads), tuple(notes)


async def plan_message(
    text: str,
    *,
    limits: Limits,
    grid: ImageView | None = None,
    images: Sequence[ImageView] = (),
    notes: Sequence[str] = (),
    note: Callable[[str], str] = str,
    with_files: bool = True,
) -> MessagePlan:
    """A result as one message: its files fitted under the platform's limits (in the
    imaging pool), the notes (the result's own first, then what was shrunk or left out), and the text
    with a note line each (`note` writes one in the platform's markup), trimmed to fit.
    `text` is already in the platform's markup; `with_files=False` plans the text alone."""
    files: tuple[Upload, ...] = ()
    all_notes = tuple(notes)
    if with_files and (grid is not None or images):
        files, fit_notes = await imaging.offload(plan_uploads, grid, images, limits)
        all_notes += fit_notes
    return MessagePlan(compose(text, all_notes, limits.text, note), files, all_notes)


def button_rows(
    buttons: Iterable[Button], *, width: int, max_rows: int | None = None
) -> list[tuple[Button, ...]]:
    """Buttons in rows by family: the picks (U…), the variations (V…) and the rest each start a
    row of their own, at most `width` to a row. A repeated button is left out (both platforms
    refuse a message whose buttons share an id). With more than `max_rows` rows the buttons are
    packed tightly instead, and what still does not fit is left out."""
    rows: list[list[Button]] = []
    seen: set[str] = set()
    family: object = None
    for button in buttons:
        if button.custom_id in seen:
            continue
        seen.add(button.custom_id)
        kind = button.verb if button.verb in (Verb.U, Verb.V) else None
        if not rows or kind != family or len(rows[-1]) >= width:
            rows.append([])
            family = kind
        rows[-1].append(button)
    if max_rows is not None and len(rows) > max_rows:
        flat = [b for row in rows for b in row]
        rows = [flat[i : i + width] for i in range(0, len(flat), width)][:max_rows]
    return [tuple(row) for row in rows]


def owed_notice(
    job_id: str,
    *,
    where: str,
    show_command: str,
    short_id: str | None = None,
    failure: str | None = None,
    limit: int | None = None,
    note: Callable[[str], str] = str,
) -> str:
    """What a requester is told privately when their job's outcome could not be posted for long.
    A result: that it waits, and how to bring it back (`show_command`, e.g. "/show"). A failure
    (`failure`, already in the platform's markup): the failure itself, with a note that it could
    not be posted. `where` is where it should have gone, in the platform's words."""
    if failure is not None:
        return compose(failure, [f"I could not post this {where} yet."], limit, note)
    ident = short_id or job_id
    return trim(
        f"I could not post your result {where} yet (job `{job_id}`); `{show_command} {ident}` brings it back.",
        limit,
    )


# --- progress wording ----------------------------------------------------------------------------


def queued_line(job_id: str, position: int | None) -> str:
    return f"⏳ #{position} in line · job `{job_id}`"


def working_line(job_id: str, previews: int = 0) -> str:
    seen = f" (preview {previews} received)" if previews else ""
    return f"🖌️ Working on it…{seen} · job `{job_id}`"


def done_line(job_id: str, short_id: str | None = None, where: str | None = None) -> str:
    """`where`: where the result is, in the platform's words ("below", "in the thread <#…>")."""
    ident = f" `{short_id}`" if short_id else ""
    there = f" — the result is {where}" if where else ""
    return f"✅ Done{ident} · job `{job_id}`{there}."


def failed_line(job_id: str, reason: str | None = None) -> str:
    """The failure as the core worded it (reason), or a plain one when there is none."""
    return reason or f"❌ Job `{job_id}` failed."


def cancelled_line(job_id: str) -> str:
    return f"🚫 Cancelled · job `{job_id}`"


@dataclass(frozen=True)
class ProgressLine:
    """How one job update reads, with the partial preview it carries (and its number)."""

    job_id: str
    stage: Stage
    text: str
    preview: bytes | None = field(default=None, repr=False)
    preview_number: int = 0

    @property
    def final(self) -> bool:
        return self.stage in (Stage.DONE, Stage.FAILED, Stage.CANCELLED)


class Progress:
    """Words a job's updates; counts each job's partial previews until it finishes."""

    def __init__(self, remember: int = 5000) -> None:
        self._previews: dict[str, int] = {}
        self._remember = remember

    def line(self, update: JobUpdate, *, where: str | None = None) -> ProgressLine:
        """The line for `update`. A final update ends the job's count; `where` says where its
        result went (for "✅ Done … — the result is {where}.")."""
        job_id, stage = update.job.id, update.stage
        if stage is Stage.QUEUED:
            return ProgressLine(job_id, stage, queued_line(job_id, update.position))
        if stage is Stage.RUNNING:
            return ProgressLine(job_id, stage, working_line(job_id, self._previews.get(job_id, 0)))
        if stage is Stage.PARTIAL:
            count = self._previews[job_id] = self._previews.get(job_id, 0) + 1
            if len(self._previews) > self._remember:  # jobs that never finished here
                for stale in list(self._previews)[: self._remember // 2]:
                    del self._previews[stale]
            return ProgressLine(job_id, stage, working_line(job_id, count), update.preview, count)
        self.forget(job_id)
        result = update.result
        if stage is Stage.DONE:
            short_id = result.caption.short_id if isinstance(result, Images) else None
            return ProgressLine(job_id, stage, done_line(job_id, short_id, where))
        if stage is Stage.FAILED:
            return ProgressLine(job_id, stage, failed_line(job_id, result.text if result else None))
        return ProgressLine(job_id, stage, cancelled_line(job_id))

    def forget(self, job_id: str) -> None:
        self._previews.pop(job_id, None)
