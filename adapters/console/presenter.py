"""The console's presenter: job progress printed as lines, and every image it shows written to
the output directory (partial previews to its partials/ folder), with the words that stand for
the buttons."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import assert_never

from bot import outbound
from bot.answers import Button, Images, JobFailed, JobUpdate, Notice, Outcome, Problem, Queued, Stage
from bot.buttons import Verb

PARTIALS_DIR = "partials"


class ConsolePresenter:
    """Prints job progress and writes every image it shows to the output directory."""

    LIMITS = outbound.Limits(set_images=True)  # files go to disk: no limits, and every image

    def __init__(self, out_dir: Path, write: Callable[[str], None]) -> None:
        self.out_dir = out_dir
        self.write = write
        self.progress = outbound.Progress()

    async def job_update(self, update: JobUpdate) -> None:
        job = update.job
        if isinstance(update.result, Queued):  # the job's first word: its queued line
            self.write(update.result.text)
            self._show_buttons(update.result.buttons)
        elif update.stage in (Stage.QUEUED, Stage.RUNNING):
            self.write(self.progress.line(update).text)
        elif update.stage is Stage.PARTIAL and update.preview is not None:
            count = self.progress.line(update).preview_number
            path = await asyncio.to_thread(
                self._save, f"imagebot-{job.id}-partial-{count}.png", update.preview, PARTIALS_DIR
            )
            self.write(f"  partial preview {count}: {path}")
        elif isinstance(update.result, Images | JobFailed):
            self.progress.forget(job.id)
            await self.show(update.result)

    async def show(self, outcome: Outcome) -> None:
        """One sender per kind of outcome; in a terminal everything is said the same way, except
        images, which are written out."""
        match outcome:
            case Images():
                await self._show_images(outcome)
            case Queued():
                pass  # said when the job was queued (its QUEUED update, above)
            case Notice() | Problem() | JobFailed():
                self.write(outcome.text)
                self._show_buttons(outcome.buttons)
            case _:
                assert_never(outcome)

    async def _show_images(self, reply: Images) -> None:
        # No upload limit here: every image shown, the grid and a set's images, is written out.
        plan = await outbound.plan_message(
            reply.text, limits=self.LIMITS, grid=reply.grid, images=reply.images, notes=reply.notes
        )
        self.write(plan.text)
        many = sum(not upload.grid for upload in plan.files) > 1
        number = 0
        for upload in plan.files:
            path = await asyncio.to_thread(self._save, upload.filename, upload.data)
            if upload.grid:
                label = "  grid: "
            else:
                number += 1
                label = f"  {number}: " if many else "  image: "
            self.write(f"{label}{path} ({upload.view.width}x{upload.view.height})")
        self._show_buttons(reply.buttons)

    def _show_buttons(self, buttons: tuple[Button, ...]) -> None:
        if buttons:
            self.write("  next: " + " · ".join(_word_for(b) for b in buttons))

    def _save(self, filename: str, data: bytes, folder: str | None = None) -> Path:
        directory = self.out_dir / folder if folder else self.out_dir
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / filename
        path.write_bytes(data)
        return path


def _word_for(button: Button) -> str:
    """What to type in the console for a button."""
    verb, label = button.verb, button.label
    return {
        Verb.VARY_SUBTLE: "vary subtle",
        Verb.VARY_STRONG: "vary strong",
        Verb.ZOOM: f"zoom {button.arg}",
        Verb.ASPECT: "square" if button.arg == "1:1" else f"aspect {button.arg}",
        Verb.EDIT: "<type an edit>",
        Verb.RETRY: "retry",
        Verb.CANCEL: "cancel",
        Verb.DESCRIBE: "describe",
        Verb.SUGGEST: f"suggestion {button.arg}",
    }.get(verb, label.lower() if verb not in (Verb.U, Verb.V) else label)
