"""The console adapter: a terminal chat over one session, for trying prompts and for demos.

A line starting with /imagine generates; U2, V1, reroll, upscale, zoom 2, square, nobg, undo,
show <id>, history, queue, usage, help do what they say; any other text is a thread reply (an
edit of the current image). Every image shown is written to the output directory (partial
previews to its partials/ folder). When stdin is not a terminal the lines run in order, each
waiting for its job, and the exit status says whether every line succeeded. The console
continues its most recent session across restarts; `new` starts another.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import stat
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from adapters.console.line_reader import LineReader
from adapters.console.presenter import ConsolePresenter
from bot.answers import (
    Notice,
    Outcome,
    Problem,
    Queued,
    Stage,
    problem_kind,
)
from bot.buttons import ButtonId, Verb
from bot.command_model import ArgValue, Call, Command
from bot.commands import Surface, commands_section
from bot.domain import Attachment, SessionKey, UserRef
from bot.errors import ErrorKind
from bot.service import ImageBot
from bot.text import display_text

PLATFORM = "console"
Ask = Callable[[str], Awaitable[str | None]]
# How the console spells the registry's commands (bot.commands): /imagine, /edit, /blend and /build
# with their slash (any other line is an edit), the rest as bare words; images are file paths.
CONSOLE = Surface(
    PLATFORM,
    slash=frozenset({"imagine", "edit", "blend", "build"}),
    files=True,
    paths=True,
    extra=(
        "Any other line edits the current image. `U2`, `V1`, `reroll`, `upscale`, `vary subtle`,"
        " `vary strong`, `zoom 2`, `zoom 1.5`, `square`, `aspect 16:9`, `nobg`, `undo`,"
        " `suggestion 2` (after `describe`).",
        "`/blend a.png b.png c.png -- a cosy reading nook --ar 16:9` blends the images in order;"
        " the prompt after the lone -- is optional.",
        "`new` (a new session) · `quit`",
    ),
)
CONSOLE_COMMANDS = commands_section(CONSOLE)
_PICK = re.compile(r"^([uv])(\d+)$", re.IGNORECASE)
# The largest file `/edit` reads (the image and the mask each); more is refused, not read.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class Console:
    def __init__(
        self, bot: ImageBot, presenter: ConsolePresenter, user: UserRef, ask: Ask | None = None
    ) -> None:
        self.bot = bot
        self.presenter = presenter
        self.user = user
        self.ask = ask  # a form command's questions, answered by the following lines
        self.session_number = 1
        self._last_failed_job: str | None = None
        self._suggestions: str | None = None  # the last /describe answer, for `suggestion N`

    @property
    def where(self) -> SessionKey:
        return _session_key(self.session_number)

    async def resume(self) -> Outcome | None:
        """Continue the most recent session (the one `new` last started), across restarts; a
        note saying so when it already has an image."""
        number = 1
        while await self.bot.session_state(_session_key(number + 1)) is not None:
            number += 1
        self.session_number = number
        session = await self.bot.session_state(self.where)
        if session is None or session.current_image_id is None:
            return None
        return Notice(
            f"Continuing session {number} (current image `{session.current_image_id}`);"
            " type `new` for a fresh one."
        )

    async def handle(self, line: str) -> bool:
        """Run one line; returns False if it failed."""
        reply = await self._dispatch(line.strip())
        if reply is None:
            return True
        await self.presenter.show(reply)
        described = next((b.target for b in getattr(reply, "buttons", ()) if b.verb is Verb.SUGGEST), None)
        self._suggestions = described or self._suggestions
        if isinstance(reply, Queued):
            ended = await self.bot.finished(reply.job.id)
            if ended is not Stage.DONE:
                self._last_failed_job = reply.job.id
            return ended is Stage.DONE
        return problem_kind(reply) is None

    async def _dispatch(self, line: str) -> Outcome | None:
        bot, user, where = self.bot, self.user, self.where
        word, _, rest = line.partition(" ")
        found = _command_for(word, rest)
        if found is not None:
            return await self._run(found, rest)
        command = word.lower().lstrip("/")
        if command == "new" and not rest:
            self.session_number += 1
            # Recorded now, so a restart continues this session even before its first image.
            await bot.open_session(self.where)
            return Notice(f"Started a new session ({self.session_number}).")
        if command == "retry" and not rest and self._last_failed_job:
            return await bot.press(user, where, ButtonId(Verb.RETRY, self._last_failed_job))
        button = await self._button_for(line)
        if button is not None:
            return await bot.press(user, where, button)
        misused = await self._misused_word(line)
        if misused is not None:
            return Problem(ErrorKind.INVALID_INPUT, misused)
        return await bot.reply(user, where, line)

    async def _misused_word(self, line: str) -> str | None:
        """What is wrong with a line that is a console word with an argument it does not take
        (`zoom 3`, `aspect 7`, `U2` with no grid), so it is not sent on as a paid edit. Several
        words after the command (`zoom in on the fox`) are an instruction, not a misuse."""
        text = " ".join(line.lower().split())
        if _PICK.match(text):
            session = await self.bot.session_state(self.where)
            if session is None or session.last_set_id is None:
                return (
                    f"`{line.strip()}` picks from a grid, and there is none here yet: make one with /imagine."
                )
            return None
        word, _, argument = text.partition(" ")
        if " " in argument:
            return None
        if word == "zoom" and re.fullmatch(r"[\d.,]+x?", argument):
            return "`zoom` takes 1.5 or 2 (zoom out 1.5× or 2×), e.g. `zoom 2`."
        if word == "aspect" and argument and not re.fullmatch(r"\d+:\d+", argument):
            return "`aspect` takes a ratio W:H, e.g. `aspect 16:9` (or `square`)."
        if word == "vary" and argument not in ("", "subtle", "strong"):
            return "`vary` takes subtle or strong: `vary subtle`, `vary strong`."
        return None

    async def _button_for(self, line: str) -> ButtonId | None:
        """The button a console word stands for, if it is one."""
        text = " ".join(line.lower().split())
        session = await self.bot.session_state(self.where)
        current = session.current_image_id if session else None
        last_set = session.last_set_id if session else None
        suggestion = re.fullmatch(r"suggestion (\d+)", text)
        if suggestion and self._suggestions:
            return ButtonId(Verb.SUGGEST, self._suggestions, suggestion.group(1))
        picked = _PICK.match(text)
        if picked and last_set:
            return ButtonId(Verb(picked.group(1)), last_set, picked.group(2))
        if text == "reroll" and (last_set or current):
            use_set = last_set and session is not None and (session.awaiting_pick or not current)
            return ButtonId(Verb.REROLL, (last_set if use_set else current) or "")
        if current is None:
            return None
        simple = {
            "upscale": Verb.UPSCALE,
            "nobg": Verb.NOBG,
            "remove background": Verb.NOBG,
            "vary subtle": Verb.VARY_SUBTLE,
            "vary strong": Verb.VARY_STRONG,
        }
        if text in simple:
            return ButtonId(simple[text], current)
        if text in ("zoom", "zoom 2", "zoom 2x", "zoom 1.5", "zoom 1.5x"):
            return ButtonId(Verb.ZOOM, current, "1.5" if "1.5" in text else "2")
        if text == "square":
            return ButtonId(Verb.ASPECT, current, "1:1")
        match = re.fullmatch(r"aspect (\d+:\d+)", text)
        if match:
            return ButtonId(Verb.ASPECT, current, match.group(1))
        return None

    async def _run(self, command: Command, rest: str) -> Outcome:
        """A registry command typed as a line: its arguments read from the text, files from disk;
        a form command's asked in turn."""
        if command.form is not None:
            return await command.run(
                self.bot, Call(self.user, self.where, CONSOLE, await self._form(command, rest))
            )
        args = CONSOLE.parse(command, rest)
        missing = CONSOLE.missing(command, args)
        if missing is not None:
            return Problem(ErrorKind.INVALID_INPUT, missing)
        for name, path in list(args.items()):
            if command.takes_image(name) and isinstance(path, str) and path:
                read = await asyncio.to_thread(read_attachment, Path(path))
                if isinstance(read, Problem):
                    return read
                args[name] = read
        return await command.run(self.bot, Call(self.user, self.where, CONSOLE, args))

    async def _form(self, command: Command, first: str) -> dict[str, ArgValue]:
        """A form command's arguments, each asked in turn and answered by the next line (an empty
        one leaves an optional argument out); text after the command answers the first. At the end
        of the input the form is run as far as it was answered (the core says what is missing)."""
        args: dict[str, ArgValue] = {}
        for index, arg in enumerate(command.args):
            if index == 0 and first.strip():
                args[arg.name] = first
                continue
            hint = f" (e.g. {arg.example})" if arg.example else ""
            optional = "" if arg.required else "; an empty line skips it"
            answer = await self.ask(f"{arg.description}{hint}{optional}") if self.ask is not None else None
            if answer is None:
                break
            args[arg.name] = answer
        return args


def _command_for(word: str, rest: str) -> Command | None:
    """The command a line's first word names: /imagine, /edit, /blend and /build only with their slash (a line
    starting "imagine …" is an edit instruction); the other words with or without one, but a bare
    word only when the rest reads as its line ("style it like Monet" is an edit, "style list" not)."""
    found = CONSOLE.find(word.lstrip("/"))
    if found is None or (CONSOLE.spell(found).startswith("/") and not word.startswith("/")):
        return None
    if not word.startswith("/") and not found.reads(rest):
        return None
    return found


def _session_key(number: int) -> SessionKey:
    return SessionKey(PLATFORM, "local", "console", str(number))


def read_attachment(path: Path, limit: int = MAX_UPLOAD_BYTES) -> Attachment | Problem:
    """A file for /edit or /blend: a regular file of at most `limit` bytes, never read past that (a device
    such as /dev/zero, a FIFO or a huge file gets a clear message, not an exhausted memory)."""

    def refused(why: str) -> Problem:
        return Problem(ErrorKind.INVALID_INPUT, f"Cannot use {path}: {why}")

    too_large = f"it is larger than {limit // (1024 * 1024)} MB, the most an image may be"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        return refused(error.strerror or str(error))
    with open(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return refused("it is not a regular file")
        if info.st_size > limit:
            return refused(too_large)
        try:
            data = file.read(limit + 1)
        except OSError as error:
            return refused(error.strerror or str(error))
    if len(data) > limit:  # it grew while we looked
        return refused(too_large)
    return Attachment(path.name, data)


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

    lines = LineReader(stdin)

    async def ask(question: str) -> str | None:
        """One question of a form, answered by the next line (None at the end of the input)."""
        if interactive:
            stdout.write(f"  {display_text(question)}\n  > ")
            stdout.flush()
        else:
            write(f"? {display_text(question)}")
        line = await lines.readline()
        if not line:
            return None
        answer = line.rstrip("\r\n")
        if not interactive:
            write(f"> {display_text(answer)}")
        return answer

    presenter = ConsolePresenter(out_dir, write)
    # Register before starting the job runner, so jobs resumed from a previous run can report.
    bot.register_presenter(PLATFORM, presenter)
    await bot.start()
    console = Console(bot, presenter, UserRef(PLATFORM, _username(), _username(), is_admin=True), ask)
    if banner:
        write(banner)
    resumed = await console.resume()
    if resumed is not None:
        write(resumed.text)
    failures = 0
    while True:
        if interactive:
            stdout.write("imagebot> ")
            stdout.flush()
        line = await lines.readline()
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
