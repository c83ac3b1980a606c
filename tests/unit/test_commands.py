"""The one command registry (bot.commands): every platform's surface is generated from it, so a
command declared once appears as a Discord slash command, a Slack /imagebot subcommand, a
console word and a line of every help text."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any, Literal, Optional

import discord
import pytest
from discord import app_commands

from adapters.console.repl import CONSOLE, Console
from adapters.discord.commands import DISCORD, fields_of, register_commands
from adapters.slack.commands import SLACK
from adapters.slack.handlers import SlackHandlers
from bot import commands as registry
from bot.answers import Notice, Outcome, problem_kind
from bot.command_model import Access, Arg, ArgKind, Call, Command
from bot.commands import COMMANDS, command, help_text
from bot.domain import UserRef


async def _ping(bot: Any, call: Call) -> Outcome:
    return Notice(f"pong {call.text('word')} on {call.surface.name}")


PING = Command(
    "ping", "Check that I am here", _ping, args=(Arg("word", "Something to echo back"),), help="answers pong"
)


@pytest.fixture
def with_ping(monkeypatch: pytest.MonkeyPatch) -> Command:
    monkeypatch.setattr(registry, "COMMANDS", (*COMMANDS, PING))
    return PING


async def discord_tree() -> dict[str, dict[str, Any]]:
    client = discord.Client(intents=discord.Intents.default())
    tree = app_commands.CommandTree(client)
    adapter = SimpleNamespace(bot=None, settings=SimpleNamespace(imagebot_allowed_models=None), intake=None)
    register_commands(tree, adapter)  # type: ignore[arg-type]
    return {c.name: c.to_dict(tree) for c in tree.get_commands()}


async def slack_router_answer(text: str) -> str:
    said: list[str] = []

    async def ephemeral(channel: str, user: str, text: str, **_: Any) -> None:
        said.append(text)

    async def actor(team: str, user: str, name: str = "") -> UserRef:
        return UserRef("slack", f"{team}:{user}", name or user)

    handlers = SlackHandlers(
        SimpleNamespace(),  # type: ignore[arg-type]
        SimpleNamespace(),  # type: ignore[arg-type]
        poster=SimpleNamespace(ephemeral=ephemeral),  # type: ignore[arg-type]
        presenter=SimpleNamespace(),  # type: ignore[arg-type]
        users=SimpleNamespace(actor=actor),  # type: ignore[arg-type]
        fetcher=SimpleNamespace(),  # type: ignore[arg-type]
        tasks=SimpleNamespace(),  # type: ignore[arg-type]
        accepting=lambda: True,
    )
    await handlers._imagebot({"channel_id": "C1", "user_id": "U1", "text": text}, "T1")
    return said[-1]


async def test_a_command_added_to_the_registry_appears_on_every_platform(with_ping: Command) -> None:
    tree = await discord_tree()
    assert tree["ping"]["description"] == "Check that I am here"
    assert tree["ping"]["options"] == [
        {"type": 3, "name": "word", "description": "Something to echo back", "required": False}
    ]

    assert await slack_router_answer("ping hello") == "pong hello on slack"
    assert "help [options|refine|tips], ping [word]." in await slack_router_answer(
        "frobnicate"
    )  # offered for an unknown word

    console = Console(SimpleNamespace(), SimpleNamespace(), UserRef("console", "me", "me"))  # type: ignore[arg-type]
    answer = await console._dispatch("ping hello")
    assert answer is not None
    assert answer.text == "pong hello on console"

    for surface, spelled in (
        (DISCORD, "/ping [word]"),
        (SLACK, "/imagebot ping [word]"),
        (CONSOLE, "ping [word]"),
    ):
        assert f"• `{spelled}` — answers pong" in help_text(surface)


async def test_discord_slash_commands_are_the_registry_s_commands_and_arguments() -> None:
    # typing caches Optional[Literal[...]] by set equality: choices must keep the registry's order
    # whichever module made an equal one first (here: another order of the background choices).
    assert Optional[Literal["transparent", "opaque", "auto"]] is not None  # noqa: UP045
    tree = await discord_tree()
    assert set(tree) == {c.name for c in COMMANDS} | {"Edit image", "Vary image", "Describe image"}
    types = {ArgKind.TEXT: 3, ArgKind.PROMPT: 3, ArgKind.MODEL: 3, ArgKind.CHOICE: 3, ArgKind.NUMBER: 4}
    types |= {ArgKind.SWITCH: 5, ArgKind.IMAGE: 11}
    for declared in COMMANDS:
        made = tree[declared.name]
        assert made["description"] == declared.description
        assert len(declared.description) <= 100
        options = {o["name"]: o for o in made.get("options", [])}
        fields = fields_of(declared)  # several images: a field each; a form command's: not its form's
        assert list(options) == [a.name for a in sorted(fields, key=lambda a: not a.required)]
        for arg in fields:
            option = options[arg.name]
            assert option["description"] == arg.description
            assert option["type"] == types[arg.kind]
            assert option.get("required", False) == arg.required
            assert [c["value"] for c in option.get("choices", [])] == list(arg.choices)
            assert option.get("autocomplete", False) == (arg.kind is ArgKind.MODEL)
            if arg.kind is ArgKind.NUMBER:
                assert (option["min_value"], option["max_value"]) == (arg.low, arg.high)


def test_each_help_lists_the_commands_its_platform_offers_spelled_its_way() -> None:
    discord_help, slack_help, console_help = (help_text(s) for s in (DISCORD, SLACK, CONSOLE))
    for name in (
        "show <id>",
        "history [mine]",
        "queue",
        "cancel [job]",
        "usage",
        "help [options|refine|tips]",
    ):
        assert f"`/{name}`" in discord_help
        assert f"`/imagebot {name}`" in slack_help
        assert f"`{name}`" in console_help
    assert "`/imagine <prompt> [--flags]`" in discord_help
    assert "`/imagine <prompt> [--flags]`" in slack_help
    assert "`/edit <image> <instruction> [mask]`" in discord_help
    assert "`/edit PATH <instruction> [--mask PATH]`" in console_help
    assert "/edit" not in slack_help  # Slack's slash commands take no files
    assert "`/imagebot settings me --n 2 --ar 16:9`" in slack_help
    assert "`settings me reset`" in console_help
    assert "`/help tips`" in discord_help
    assert "`/imagebot help tips`" in slack_help
    for surface in (DISCORD, SLACK, CONSOLE):
        assert "**Prompt tips**" in help_text(surface, "tips")
        assert "**Refine in the thread**" in help_text(surface, "refine")
        assert "`--text" in help_text(surface, "options")
        # Every answer fits one Discord message, however many commands there are.
        assert all(len(help_text(DISCORD, topic)) <= 2000 for topic in ("", "options", "refine", "tips"))


def test_text_surfaces_read_arguments_the_same_way() -> None:
    settings, history, cancel, edit = (command(n) for n in ("settings", "history", "cancel", "edit"))
    for surface in (SLACK, CONSOLE):
        assert surface.parse(settings, "Channel --n 2 --ar 16:9") == {
            "scope": "channel",
            "changes": "--n 2 --ar 16:9",
        }
        assert surface.parse(settings, "") == {"scope": "", "changes": ""}
        assert surface.parse(history, "mine") == {"mine": True}
        assert surface.parse(history, "") == {"mine": False}
        assert surface.parse(cancel, " 0badcafe ") == {"job": "0badcafe"}
    assert CONSOLE.parse(edit, "cat.png make it blue --mask m.png") == {
        "mask": "m.png",
        "image": "cat.png",
        "instruction": "make it blue",
    }
    assert SLACK.missing(command("show"), {"id": ""}) == (
        "Which one? `/imagebot show <id>`; `/imagebot history` lists ids."
    )
    blend = command("blend")
    assert CONSOLE.parse(blend, "a.png shots/b.jpg c.webp a cosy nook --ar 16:9") == {
        "image1": "a.png",
        "image2": "shots/b.jpg",
        "image3": "c.webp",
        "prompt": "a cosy nook --ar 16:9",
    }
    # Before a lone `--` every word is a path (so a name without an extension works); flags stay.
    assert CONSOLE.parse(blend, "cat dog.png -- make it 3.5x --ar 16:9") == {
        "image1": "cat",
        "image2": "dog.png",
        "prompt": "make it 3.5x --ar 16:9",
    }
    assert CONSOLE.find("?") == command("help")
    assert SLACK.find("HELP") == command("help")


def test_a_field_offers_only_what_the_core_accepts_and_names_are_unique() -> None:
    registry._check_registry()
    twice = dataclasses.replace(command("queue"), aliases=("usage",))
    original = registry.COMMANDS
    try:
        registry.COMMANDS = (*original, twice)
        with pytest.raises(ValueError, match="declared twice"):
            registry._check_registry()
    finally:
        registry.COMMANDS = original


async def test_an_admins_only_command_is_refused_to_members_on_every_platform(with_ping: Command) -> None:
    admins_only = dataclasses.replace(PING, access=Access.ADMINS)
    member, admin = UserRef("slack", "T1:U1", "ann"), UserRef("slack", "T1:U2", "root", is_admin=True)
    refused = await admins_only.run(None, Call(member, None, SLACK, {"word": "x"}))  # type: ignore[arg-type]
    assert problem_kind(refused) == "forbidden"
    assert "Only admins can use /imagebot ping" in refused.text
    allowed = await admins_only.run(None, Call(admin, None, SLACK, {"word": "x"}))  # type: ignore[arg-type]
    assert allowed.text == "pong x on slack"
