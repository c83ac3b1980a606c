"""The one command registry: every command declared once, for every platform.

A `Command` says its name, its arguments (with descriptions and typed kinds), what it is for,
who may use it, how it answers and which use case handles it. Each adapter generates its surface
from `COMMANDS`: Discord's slash commands (argument kinds become option types), Slack's
`/imagebot` subcommands, the console's words, and every help text (bot.help). Adding a command
is one entry here plus its handler.

A `Surface` says how one platform spells commands (`/show` on Discord, `/imagebot show` on Slack,
`show` in the console) and what it can take (typed fields, files); the adapter owns its surface.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, get_args

from bot import command_handlers as handlers
from bot.answers import Notice, Outcome
from bot.blending import MAX_IMAGES, MIN_IMAGES
from bot.command_model import Answer, Arg, ArgKind, ArgValue, Call, Command, images_arg
from bot.domain import Background, OutputFormat, Quality
from bot.errors import BotError
from bot.help import OPTIONS, REFINING, TIPS
from bot.paths import leading_paths
from bot.prompt_builder import FIELDS, PromptLayers, check_field, compose, shown
from bot.replies import error_reply
from bot.style_command import STYLE_COMMAND
from bot.template_desk import ACTIONS as TEMPLATE_ACTIONS

if TYPE_CHECKING:
    from bot.service import ImageBot


@dataclass(frozen=True)
class Surface:
    """How one platform spells and takes commands."""

    name: str
    slash: frozenset[str] | None = None  # commands spelled /name (None: all of them)
    router: str = ""  # how the rest are spelled: "/imagebot " on Slack, "" (the bare word) in the console
    fields: bool = False  # typed fields (Discord options): field-only arguments are offered there
    files: bool = False  # can take an image argument (Discord attachments, console file paths)
    paths: bool = False  # images are given as file paths (`--mask PATH` for an optional one)
    extra: tuple[str, ...] = ()  # help lines for what is not a command here (mentions, console words)

    def spell(self, command: Command) -> str:
        if self.slash is None or command.name in self.slash:
            return f"/{command.name}"
        return f"{self.router}{command.name}"

    def offers(self, command: Command) -> bool:
        return self.files or not command.needs_file

    def commands(self) -> tuple[Command, ...]:
        return tuple(c for c in COMMANDS if self.offers(c))

    def routed(self) -> tuple[Command, ...]:
        """The commands reached through the router (Slack's /imagebot <subcommand>)."""
        return tuple(c for c in self.commands() if self.slash is not None and c.name not in self.slash)

    def usage(self, command: Command) -> str:
        """The command as typed here, with its arguments: `/imagebot show <id>`."""
        words = [self.spell(command)]
        for arg in () if command.form is not None else command.args:  # a form asks for its own
            if arg.field_only or not self.takes(arg):
                continue
            words.append(self._placeholder(arg))
        return " ".join(words)

    def takes(self, arg: Arg) -> bool:
        """Whether an argument can be given here (an image only where files can be sent)."""
        return self.files or not images_arg(arg)

    def _placeholder(self, arg: Arg) -> str:
        if arg.kind is ArgKind.IMAGE and self.paths:
            return "PATH" if arg.required else f"[--{arg.name} PATH]"
        if arg.kind is ArgKind.IMAGES:
            low, high = arg.low or 0, arg.high or 0
            return " ".join(["PATH"] * low) + f" [… up to {high}]" if self.paths else f"<{low}-{high} images>"
        if arg.kind is ArgKind.SWITCH:
            return f"[{arg.name}]"
        if arg.kind is ArgKind.PROMPT:
            return f"<{arg.name}> [--flags]"
        name = "|".join(arg.choices) if arg.kind is ArgKind.CHOICE else arg.name
        name = arg.shown_as or name
        return f"<{name}>" if arg.required else f"[{name}]"

    def find(self, word: str) -> Command | None:
        word = word.lower()
        return next((c for c in self.commands() if word == c.name or word in c.aliases), None)

    def parse(self, command: Command, text: str) -> dict[str, ArgValue]:
        """The arguments of a command typed as text: in order, one word each, the last (or a
        prompt) taking the rest of the line; an optional image given as a path is `--name PATH`."""
        values: dict[str, ArgValue] = {}
        rest = text.strip()
        positional = []
        for arg in command.args:
            if arg.field_only or not self.takes(arg):
                continue
            if arg.kind is ArgKind.IMAGES:
                if self.paths:
                    paths, rest = leading_paths(rest)
                    values.update({f"{arg.name}{i}": path for i, path in enumerate(paths, 1)})
                continue
            if arg.kind is ArgKind.IMAGE and self.paths and not arg.required:
                found = re.search(rf"(?<!\S)--{re.escape(arg.name)}(?:=|\s+)(\S+)", rest)
                if found:
                    values[arg.name] = found.group(1)
                    rest = (rest[: found.start()] + rest[found.end() :]).strip()
                continue
            positional.append(arg)
        for index, arg in enumerate(positional):
            last = index == len(positional) - 1
            word, _, after = rest.partition(" ")
            if arg.kind is ArgKind.SWITCH:
                on = (rest if last else word).strip().lower() == arg.name
                values[arg.name] = on
                rest = after.strip() if on and not last else rest
            elif last or arg.kind is ArgKind.PROMPT:
                values[arg.name] = rest
                rest = ""
            else:
                values[arg.name] = word.lower() if arg.kind is ArgKind.CHOICE else word
                rest = after.strip()
        return values

    def missing(self, command: Command, values: Mapping[str, ArgValue]) -> str | None:
        """What to ask when a line left out an argument that has a question (`Arg.ask`), else None."""
        for arg in command.args:
            if arg.ask is not None and values.get(arg.name) in (None, ""):
                spelled = {c.name: self.spell(c) for c in COMMANDS}
                return arg.ask.format(this=self.usage(command), **spelled)
        return None


# --- the handlers that need the registry (the others: bot.command_handlers) ---------------------
async def _build(bot: ImageBot, call: Call) -> Outcome:
    layers = PromptLayers(**{name: call.text(name) for name, _, _ in FIELDS})
    try:
        composed = compose(layers)
    except BotError as error:
        return error_reply(error)
    note = shown(composed, call.surface.spell(command("imagine")))
    return await bot.imagine(call.actor, call.where, composed, open_session=call.open_session, note=note)


async def _help(bot: ImageBot, call: Call) -> Outcome:
    return Notice(help_text(call.surface, call.text("topic")))


# The choices offered as fields; typed as --flags, the core's option rules apply (bot.options).
ASPECTS = ("1:1", "16:9", "9:16", "3:2", "2:3", "4:3", "3:4", "21:9")
QUALITIES = ("auto", "low", "medium", "high", "xhigh", "max")
FORMATS = ("png", "webp", "jpeg")
BACKGROUNDS = ("auto", "transparent", "opaque")
SCOPES = ("me", "channel", "workspace")
HELP_SECTIONS = {"options": OPTIONS, "refine": REFINING, "tips": TIPS}
HELP_TOPICS = tuple(HELP_SECTIONS)

COMMANDS: tuple[Command, ...] = (
    Command(
        "imagine",
        "Make images from a prompt (--flags work too)",
        handlers.on_imagine,
        args=(
            Arg("prompt", "What to draw; options like --ar 16:9 --n 2 work here too", ArgKind.PROMPT, True),
            Arg("aspect", "Aspect ratio", ArgKind.CHOICE, choices=ASPECTS, field_only=True),
            Arg("n", "How many images (1-10)", ArgKind.NUMBER, low=1, high=10, field_only=True),
            Arg("quality", "Rendering quality", ArgKind.CHOICE, choices=QUALITIES, field_only=True),
            Arg("model", "Image model", ArgKind.MODEL, field_only=True),
            Arg("format", "File format", ArgKind.CHOICE, choices=FORMATS, field_only=True),
            Arg("background", "Background", ArgKind.CHOICE, choices=BACKGROUNDS, field_only=True),
            Arg("reference1", "A reference image", ArgKind.IMAGE, field_only=True),
            Arg("reference2", "Another reference image", ArgKind.IMAGE, field_only=True),
            Arg("reference3", "Another reference image", ArgKind.IMAGE, field_only=True),
        ),
        help="makes 4 images (a grid) from a prompt",
        answer=Answer.PUBLIC,
        session_title="prompt",
    ),
    Command(
        "edit",
        "Edit an uploaded image with an instruction",
        handlers.on_edit,
        args=(
            Arg("image", "The image to edit", ArgKind.IMAGE, True),
            Arg("instruction", "What to change", ArgKind.TEXT, True),
            Arg("mask", "Transparent where it may change", ArgKind.IMAGE),
        ),
        help="edits an uploaded photo (optional mask: transparent = change here)",
        answer=Answer.PUBLIC,
        session_title="instruction",
    ),
    Command(
        "blend",
        "Combine 2 to 5 images into new ones (--flags work in the prompt)",
        handlers.on_blend,
        args=(
            Arg("image", "An image to blend", ArgKind.IMAGES, low=MIN_IMAGES, high=MAX_IMAGES),
            Arg("prompt", "How to combine them (optional); --ar 16:9 and other flags work", ArgKind.PROMPT),
            Arg("aspect", "Aspect ratio", ArgKind.CHOICE, choices=ASPECTS, field_only=True),
        ),
        help="blends 2 to 5 images, in order; an optional prompt says how",
        answer=Answer.PUBLIC,
        session_title="prompt",
    ),
    Command(
        "describe",
        "Turn an image into 4 prompt suggestions, each one click from /imagine",
        handlers.on_describe,
        args=(Arg("image", "The image to describe", ArgKind.IMAGE, True),),
        help="4 prompt suggestions for an image, each with a button that runs /imagine with it",
        answer=Answer.PUBLIC,
    ),
    Command(
        "show",
        "Re-post an earlier image or set, with working buttons",
        handlers.on_show,
        args=(
            Arg(
                "id",
                "The image or set id (see /history)",
                required=True,
                ask="Which one? `{this}`; `{history}` lists ids.",
            ),
        ),
        help="brings back any image or set",
        answer=Answer.PUBLIC,
    ),
    Command(
        "history",
        "Recent images with their ids",
        handlers.on_history,
        args=(Arg("mine", "Only mine, from everywhere", ArgKind.SWITCH),),
        help="this thread's (or your) images with their ids",
    ),
    Command("queue", "What is queued or running, and where you stand", handlers.on_queue),
    Command(
        "cancel",
        "Cancel your job (the latest one if no id is given)",
        handlers.on_cancel,
        args=(Arg("job", "The job id"),),
        help="cancels your job (the latest one if no id is given)",
    ),
    Command("usage", "Your images and estimated spend (admins: the team's)", handlers.on_usage),
    Command(
        "settings",
        "Show or change default options",
        handlers.on_settings,
        args=(
            Arg("scope", "Whose defaults", ArgKind.CHOICE, choices=SCOPES),
            Arg("changes", "Options like --n 2 --ar 16:9, or reset"),
        ),
        help="your defaults; `{cmd} me --n 2 --ar 16:9` changes them (admins also `channel` or"
        " `workspace`), `{cmd} me reset` clears a layer",
    ),
    STYLE_COMMAND,
    Command(
        "template",
        "Prompt templates: list, show, save, rename or delete",
        handlers.on_template,
        args=(
            Arg("action", "What to do (list by default)", ArgKind.CHOICE, choices=TEMPLATE_ACTIONS),
            Arg("name", "The template's name"),
            Arg("text", "save: the prompt with {placeholders} and --flags; rename: the new name"),
            Arg(
                "workspace", "The workspace's templates, not yours (admins)", ArgKind.SWITCH, field_only=True
            ),
        ),
        help="saved prompts for `--template NAME`",
    ),
    Command(
        "build",
        "Build a prompt in four layers: subject, environment, lighting, camera",
        _build,
        args=tuple(
            # Discord's slash option is the style (its form holds 5 fields); the subject is required.
            Arg(
                name,
                label,
                required=name == "subject",
                field_only=name == "style",
                example=example,
                check=partial(check_field, name),
            )
            for name, label, example in FIELDS
        ),
        help="a prompt in 4 layers",
        answer=Answer.PUBLIC,
        session_title="subject",
        form="Build a prompt",
    ),
    Command(
        "help",
        "How to use imagebot: commands, or one topic (options, refine, tips)",
        _help,
        args=(
            Arg(
                "topic",
                "Options, refining in the thread, or prompt tips",
                ArgKind.CHOICE,
                choices=HELP_TOPICS,
            ),
        ),
        aliases=("?",),
    ),
)


def command(name: str) -> Command:
    return next(c for c in COMMANDS if c.name == name)


def taking_files(word: str) -> Command | None:
    """The command a message's first word names (or an alias of it), if it takes uploaded images:
    where a message carries files (a Slack mention), such a message runs it, its files bound to
    the image arguments (`Command.bind_files`). Commands that take none are typed elsewhere."""
    word = word.lower().rstrip("!.?:,")
    return next((c for c in COMMANDS if c.takes_files and (word == c.name or word in c.aliases)), None)


def _check_registry() -> None:
    """Names are unique, and a field's choices are ones the core's options accept."""
    names = [c.name for c in COMMANDS] + [a for c in COMMANDS for a in c.aliases]
    if len(names) != len(set(names)):
        raise ValueError(f"a command name is declared twice: {names}")
    for choices, accepted in ((QUALITIES, Quality), (FORMATS, OutputFormat), (BACKGROUNDS, Background)):
        if not set(choices) <= set(get_args(accepted)):
            raise ValueError(f"{choices} are not all accepted options")


_check_registry()


def commands_section(surface: Surface) -> str:
    """One line per command this surface offers, then the surface's own lines (mentions, words)."""
    lines = ["**Commands**"]
    for command in surface.commands():
        what = command.help or command.description[:1].lower() + command.description[1:]
        lines.append(f"• `{surface.usage(command)}` — {what.replace('{cmd}', surface.spell(command))}")
    lines.extend(f"• {line}" for line in surface.extra)
    return "\n".join(lines)


def help_text(surface: Surface, topic: str = "") -> str:
    """/help: the commands as this surface spells them and how to ask for more; /help TOPIC:
    that topic. Each answer fits one Discord message, however many commands there are."""
    if topic:
        return HELP_SECTIONS[topic]
    more = " · ".join(f"`{surface.spell(command('help'))} {name}`" for name in HELP_TOPICS)
    return "\n\n".join(
        ["**imagebot: a shared image studio**", commands_section(surface), f"More help: {more}"]
    )
