"""The console adapter: a terminal chat over one session, for trying prompts and for demos.

A line starting with /imagine generates; U2, V1, reroll, upscale, zoom 2, square, nobg, undo,
show <id>, history, queue, usage, help do what they say; any other text is a thread reply (an
edit of the current image). Every image shown is written to the output directory. When stdin
is not a terminal the lines run in order, each waiting for its job, and the exit status says
whether every line succeeded.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.domain import Attachment, Button, JobUpdate, Reply, SessionKey, Stage, UserRef
from bot.service import ImageBot

PLATFORM = "console"
CONSOLE_COMMANDS = """\
**Commands**
• `/imagine <prompt>` makes images; `/edit PATH <instruction> [--mask PATH]` edits a file.
• Any other line edits the current image. `U2`, `V1`, `reroll`, `upscale`, `vary subtle`,
  `vary strong`, `zoom 2`, `zoom 1.5`, `square`, `aspect 16:9`, `nobg`, `undo`.
• `show <id>` · `history [mine]` · `queue` · `cancel [job]` · `usage` · `settings` · `new`
  (a new session) · `quit`"""
_PICK = re.compile(r"^([uv])(\d+)$", re.IGNORECASE)


class ConsolePresenter:
    """Prints job progress and writes every image it shows to the output directory."""

    def __init__(self, out_dir: Path, write: Callable[[str], None]) -> None:
        self.out_dir = out_dir
        self.write = write
        self._partials: dict[str, int] = {}

    async def job_update(self, update: JobUpdate) -> None:
        job = update.job
        if update.stage is Stage.QUEUED:
            self.write(f"⏳ job {job.id}: #{update.position} in line")
        elif update.stage is Stage.RUNNING:
            self.write(f"… job {job.id}: working")
        elif update.stage is Stage.PARTIAL and update.preview is not None:
            count = self._partials[job.id] = self._partials.get(job.id, 0) + 1
            path = await asyncio.to_thread(
                self._save, f"imagebot-{job.id}-partial-{count}.png", update.preview
            )
            self.write(f"  partial preview {count}: {path}")
        elif update.result is not None:
            self._partials.pop(job.id, None)
            await self.show(update.result)

    async def show(self, reply: Reply) -> None:
        self.write(reply.text)
        if reply.grid is not None:
            path = await asyncio.to_thread(self._save, reply.grid.filename, reply.grid.data)
            self.write(f"  grid: {path} ({reply.grid.width}x{reply.grid.height})")
        for number, view in enumerate(reply.images, start=1):
            path = await asyncio.to_thread(self._save, view.filename, view.data)
            prefix = f"  {number}: " if len(reply.images) > 1 else "  image: "
            self.write(f"{prefix}{path} ({view.width}x{view.height})")
        if reply.buttons:
            self.write("  next: " + " · ".join(_word_for(b) for b in reply.buttons))

    def _save(self, filename: str, data: bytes) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / filename
        path.write_bytes(data)
        return path


def _word_for(button: Button) -> str:
    """What to type in the console for a button."""
    verb, label = button.verb, button.label
    return {
        "vary-subtle": "vary subtle",
        "vary-strong": "vary strong",
        "zoom": f"zoom {button.arg}",
        "aspect": "square" if button.arg == "1:1" else f"aspect {button.arg}",
        "edit": "<type an edit>",
        "retry": "retry",
        "cancel": "cancel",
    }.get(verb, label.lower() if verb not in ("u", "v") else label)


class Console:
    def __init__(self, bot: ImageBot, presenter: ConsolePresenter, user: UserRef) -> None:
        self.bot = bot
        self.presenter = presenter
        self.user = user
        self.session_number = 1
        self._last_failed_job: str | None = None

    @property
    def where(self) -> SessionKey:
        return SessionKey(PLATFORM, "local", "console", str(self.session_number))

    async def handle(self, line: str) -> bool:
        """Run one line; returns False if it failed."""
        reply = await self._dispatch(line.strip())
        if reply is None:
            return True
        await self.presenter.show(reply)
        ok = reply.error_kind is None
        if reply.job_id and reply.queue_position is not None:
            outcome = await self.bot.runner.wait(reply.job_id)
            ok = outcome.stage is Stage.DONE
            if not ok:
                self._last_failed_job = reply.job_id
        return ok

    async def _dispatch(self, line: str) -> Reply | None:
        bot, user, where = self.bot, self.user, self.where
        word, _, rest = line.partition(" ")
        command = word.lower().lstrip("/")
        if word.lower() == "/imagine" or (command == "imagine" and word.startswith("/")):
            return await bot.imagine(user, where, rest)
        if word.lower() == "/edit":
            return await self._edit_file(rest)
        if command in ("help", "?"):
            return bot.help(CONSOLE_COMMANDS)
        if command == "history":
            return await bot.history(user, where, mine=rest.strip() == "mine")
        if command == "queue":
            return await bot.queue(user, where)
        if command == "settings":
            scope, _, changes = rest.strip().partition(" ")
            if not scope:
                return await bot.settings_view(user, where)
            return await bot.update_settings(user, where, scope, changes)
        if command == "usage":
            return await bot.usage(user, where)
        if command == "cancel":
            return await bot.cancel(user, where, rest.strip() or None)
        if command == "show" and rest.strip():
            return await bot.show(user, where, rest.strip())
        if command == "new" and not rest:
            self.session_number += 1
            return Reply(text=f"Started a new session ({self.session_number}).")
        if command == "retry" and not rest and self._last_failed_job:
            return await bot.press(user, where, f"ib:retry:{self._last_failed_job}")
        button = await self._button_for(line)
        if button is not None:
            return await bot.press(user, where, button)
        return await bot.reply(user, where, line)

    async def _button_for(self, line: str) -> str | None:
        """The custom_id of the button a console word stands for, if it is one."""
        text = " ".join(line.lower().split())
        session = await self.bot.session_state(self.where)
        current = session.current_image_id if session else None
        last_set = session.last_set_id if session else None
        picked = _PICK.match(text)
        if picked and last_set:
            return f"ib:{picked.group(1)}:{last_set}:{picked.group(2)}"
        if text == "reroll" and (last_set or current):
            use_set = last_set and (session.awaiting_pick or not current)
            return f"ib:reroll:{last_set if use_set else current}"
        if current is None:
            return None
        simple = {
            "upscale": "upscale",
            "nobg": "nobg",
            "remove background": "nobg",
            "vary subtle": "vary-subtle",
            "vary strong": "vary-strong",
        }
        if text in simple:
            return f"ib:{simple[text]}:{current}"
        if text in ("zoom", "zoom 2", "zoom 2x", "zoom 1.5", "zoom 1.5x"):
            factor = "1.5" if "1.5" in text else "2"
            return f"ib:zoom:{current}:{factor}"
        if text == "square":
            return f"ib:aspect:{current}:1:1"
        match = re.fullmatch(r"aspect (\d+:\d+)", text)
        if match:
            return f"ib:aspect:{current}:{match.group(1)}"
        return None

    async def _edit_file(self, rest: str) -> Reply:
        """/edit PATH instruction [--mask PATH]: start a session from a file on disk."""
        path_text, _, instruction = rest.strip().partition(" ")
        mask = None
        mask_match = re.search(r"(?<!\S)--mask(?:=|\s+)(\S+)", instruction)
        if mask_match:
            instruction = (instruction[: mask_match.start()] + instruction[mask_match.end() :]).strip()
            mask = _read_attachment(Path(mask_match.group(1)))
            if isinstance(mask, Reply):
                return mask
        image = _read_attachment(Path(path_text))
        if isinstance(image, Reply):
            return image
        return await self.bot.edit_upload(self.user, self.where, image, instruction, mask=mask)


def _read_attachment(path: Path) -> Attachment | Reply:
    try:
        return Attachment(path.name, path.read_bytes())
    except OSError as error:
        return Reply(text=f"Cannot read {path}: {error.strerror or error}", error_kind="invalid_input")


async def run_console(
    bot: ImageBot,
    *,
    out_dir: Path,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    interactive: bool | None = None,
    banner: str = "",
) -> int:
    """Start `bot`, run the console until end of input; returns the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty() if interactive is None else interactive

    def write(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    presenter = ConsolePresenter(out_dir, write)
    # Register before starting the job runner, so jobs resumed from a previous run can report.
    bot.register_presenter(PLATFORM, presenter)
    await bot.start()
    console = Console(bot, presenter, UserRef(PLATFORM, _username(), _username(), is_admin=True))
    if banner:
        write(banner)
    failures = 0
    while True:
        if interactive:
            stdout.write("imagebot> ")
            stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        if line.lower() in ("quit", "exit"):
            break
        if not interactive:
            write(f"> {line}")
        if not await console.handle(line):
            failures += 1
    if not interactive and failures:
        write(f"{failures} line(s) failed.")
        return 1
    return 0


def _username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "you"
