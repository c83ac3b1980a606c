"""The pieces a command is declared with: its arguments and their kinds, who may use it, how it
answers, and one use of it (`Call`) as an adapter hands it to the command's handler. The
registry itself, and how each platform spells commands (`Surface`), are in `bot.commands`."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from bot.answers import Outcome
from bot.domain import Attachment, SessionKey, UserRef
from bot.errors import BotError, ErrorKind, check_image_count
from bot.paths import numbered
from bot.replies import error_reply

if TYPE_CHECKING:
    from bot.commands import Surface
    from bot.service import ImageBot

OpenSession = Callable[[], Awaitable[SessionKey]]
ArgValue = str | int | bool | Attachment | None
File = TypeVar("File")


class ArgKind(enum.Enum):
    """What an argument holds; each adapter translates the kind to its own (Discord option types)."""

    TEXT = "text"  # a word, or the rest of the line when it is the last one
    PROMPT = "prompt"  # free text in which --flags work
    NUMBER = "number"  # a whole number between `low` and `high`
    CHOICE = "choice"  # one of `choices`
    MODEL = "model"  # a model name (platforms with fields offer the allowed models)
    SWITCH = "switch"  # on when given: as text, the argument's own name (`history mine`)
    IMAGE = "image"  # an uploaded image (Discord: an attachment; console: a file path)
    # `low` to `high` uploaded images, in order: fields NAME1..NAMEhigh where a platform has them;
    # as paths, the leading words that look like paths (or all words before a lone `--`)
    IMAGES = "images"


class Access(enum.Enum):
    """Who may use a command. Finer rules (admins change the channel's defaults, see the team's
    usage) are the use case's own checks."""

    ANYONE = "anyone"
    ADMINS = "admins"


class Answer(enum.Enum):
    PRIVATE = "private"  # text only the person who asked sees
    PUBLIC = "public"  # posted where asked: images, a queued job (may open a session thread)


@dataclass(frozen=True)
class Arg:
    name: str
    description: str
    kind: ArgKind = ArgKind.TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    field_only: bool = False  # a typed field where a platform has fields; elsewhere a --flag in the text
    # Asked when a text surface's line leaves it out ({this}: the command as typed there; {NAME}:
    # another command as spelled there). None: the use case's own check answers.
    ask: str | None = None
    example: str = ""  # shown in a form's empty field (a placeholder)
    # Checks a value as soon as it is given, before a form opens on it (so nobody fills in a
    # form that its own field would refuse); raises BotError. The handler checks again.
    check: Callable[[str], object] | None = None
    shown_as: str | None = None  # how help names it, when its choices would make the line too long


@dataclass(frozen=True)
class Call:
    """One use of a command, as an adapter hands it to the command's handler."""

    actor: UserRef
    where: SessionKey
    surface: Surface
    args: Mapping[str, ArgValue] = field(default_factory=dict)
    open_session: OpenSession | None = None

    def text(self, name: str) -> str:
        value = self.args.get(name)
        return value.strip() if isinstance(value, str) else ""

    def number(self, name: str) -> int | None:
        value = self.args.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def switch(self, name: str) -> bool:
        return self.args.get(name) is True

    def image(self, name: str) -> Attachment | None:
        value = self.args.get(name)
        return value if isinstance(value, Attachment) else None

    def images(self, name: str) -> list[Attachment]:
        """An IMAGES argument's uploads in order (all that were given: the use case counts them)."""
        found = [(numbered(k, name), v) for k, v in self.args.items() if isinstance(v, Attachment)]
        return [v for n, v in sorted((n, v) for n, v in found if n is not None)]


Handler = Callable[["ImageBot", Call], Awaitable[Outcome]]


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # one line (Discord shows it under the command; at most 100 characters)
    handler: Handler
    args: tuple[Arg, ...] = ()
    help: str = ""  # the help line, when it says more than the description; {cmd} is the command as spelled
    access: Access = Access.ANYONE
    answer: Answer = Answer.PRIVATE
    session_title: str | None = None  # the argument that names a new session thread, if it opens one
    aliases: tuple[str, ...] = ()
    # The title of the form its arguments are asked in (a Discord or Slack modal; the console asks
    # them in turn), whose submit runs the handler; None: typed on the line. On Discord its
    # field-only arguments are the slash command's options (a modal holds at most 5 fields).
    form: str | None = None

    def arg(self, name: str) -> Arg:
        return next(a for a in self.args if a.name == name)

    async def run(self, bot: ImageBot, call: Call) -> Outcome:
        """Who may use it checked once here for every platform, then the handler."""
        if self.access is Access.ADMINS and not call.actor.is_admin:
            return error_reply(
                BotError(ErrorKind.FORBIDDEN, f"Only admins can use {call.surface.spell(self)}.")
            )
        return await self.handler(bot, call)

    @property
    def needs_file(self) -> bool:
        return any(a.required if a.kind is ArgKind.IMAGE else bool(a.low) for a in self.args if images_arg(a))

    def takes_image(self, key: str) -> bool:
        """Whether a parsed value's key names an image (an IMAGES argument's are NAME1, NAME2…)."""
        return any(key == a.name or numbered(key, a.name) is not None for a in self.args if images_arg(a))

    @property
    def takes_files(self) -> bool:
        """Whether it takes uploaded images at all (an IMAGE or IMAGES argument, a field or not)."""
        return any(images_arg(a) for a in self.args)

    def reads(self, words: str) -> bool:
        """Whether `words` can be this command's line: a first argument that is a choice must be
        one of its choices ("style it like Monet" is not the style command; "style save x" is)."""
        first = next((a for a in self.args if not a.field_only and not images_arg(a)), None)
        if first is None or first.kind is not ArgKind.CHOICE:
            return True
        word = words.split(None, 1)[0].lower() if words.strip() else ""
        return word in first.choices

    @property
    def fewest_files(self) -> int:
        """The fewest files `bind_files` accepts: an IMAGES argument's `low`. A missing IMAGE is
        the handler's to answer (describe falls back to the thread's current image)."""
        return sum(a.low or 0 for a in self.args if a.kind is ArgKind.IMAGES)

    def bind_files(self, files: Sequence[File]) -> dict[str, File]:
        """Files that came with a message, in order, as this command's image arguments: one to
        each IMAGE argument as declared, then an IMAGES argument's NAME1, NAME2…. Too many (or
        too few for an IMAGES argument) are refused here, so an adapter can count first and
        download after."""
        names = [a.name for a in self.args if a.kind is ArgKind.IMAGE]
        for arg in self.args:
            if arg.kind is ArgKind.IMAGES:
                names += [f"{arg.name}{i}" for i in range(1, (arg.high or 0) + 1)]
        if self.fewest_files or len(files) > len(names):
            check_image_count(self.name, len(files), self.fewest_files, len(names))
        return dict(zip(names, files, strict=False))


def images_arg(arg: Arg) -> bool:
    return arg.kind in (ArgKind.IMAGE, ArgKind.IMAGES)
