"""A Slack mention runs a registry command (issue 9): "@imagebot NAME …" where NAME is a command
that takes images runs it with the message's files as its image arguments and the rest of the text
as its arguments, read as `/imagebot` reads them. Nothing in the Slack adapter names the
commands, so one added to the registry is reachable by mention with no adapter edit. Any other
mention outside a session is an /imagine of its text.

The real slack-bolt app runs against the fake Slack Web API; the registry's handlers are replaced
by spies, so what a mention handed each command is seen exactly (and nothing is generated)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.commands import SLACK
from bot import commands as registry
from bot.answers import Notice, Outcome
from bot.command_model import Arg, ArgKind, Call, Command, Handler
from bot.domain import Attachment
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, app_mention_event
from tests.helpers import png
from tests.integration.test_slack_adapter import (
    ALICE,
    CHANNEL,
    imagine_and_wait,
    running_slack,
    slack_settings,
)


async def _stamp(bot: Any, call: Call) -> Outcome:
    return Notice(f"stamped {call.text('caption')}")


# A command no adapter has heard of: one image and a caption.
STAMP = Command(
    "stamp",
    "Put a caption on an image",
    _stamp,
    args=(Arg("picture", "The image", ArgKind.IMAGE, True), Arg("caption", "What it says")),
    aliases=("caption",),
)


async def test_every_command_that_takes_images_is_run_by_a_mention_with_its_files_and_words(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[str, Call]] = []

    def spy(name: str) -> Handler:
        async def handler(bot: Any, call: Call) -> Outcome:
            ran.append((name, call))
            return Notice(f"{name} ran")

        return handler

    spied = tuple(
        dataclasses.replace(c, handler=spy(c.name)) if c.takes_files else c
        for c in (*registry.COMMANDS, STAMP)
    )
    monkeypatch.setattr(registry, "COMMANDS", spied)
    taking = [c for c in spied if c.takes_files]
    assert {"blend", "describe", "style", "stamp"} <= {c.name for c in taking}

    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        for count, found in enumerate(taking, start=1):
            sent = [png(32 + i, 32) for i in range(max(found.fewest_files, 1))]
            files = [slack.add_user_file(f"{found.name}{i}.png", data) for i, data in enumerate(sent)]
            words = "save sunny warm yellow --ar 16:9"
            await h.event(
                app_mention_event(f"{found.name} {words}", bot_user_id=slack.bot_user_id, files=files)
            )
            note = await slack.wait_for(lambda c=count: len(slack.ephemerals) >= c and slack.ephemerals[-1])
            assert note["text"] == f"{found.name} ran"
            assert note["user"] == ALICE
            name, call = ran[-1]
            assert name == found.name
            given = {k: v for k, v in call.args.items() if found.takes_image(k)}
            # every file, in order, as its images
            assert [a.data if isinstance(a, Attachment) else a for a in given.values()] == sent
            assert list(given) == list(found.bind_files(sent))
            typed = {k: v for k, v in call.args.items() if not found.takes_image(k)}
            assert typed == SLACK.parse(found, words)  # the words read as /imagebot reads them
            assert call.where.channel == CHANNEL

        # By its alias too, and the first word may end a sentence ("@imagebot Caption!").
        await h.event(app_mention_event("Caption! hello", bot_user_id=slack.bot_user_id, files=files))
        await slack.wait_for(lambda: len(ran) == len(taking) + 1)
        assert ran[-1][0] == "stamp"
        assert ran[-1][1].text("caption") == "hello"
        await h.adapter.wait_idle(10)
    assert fake_openai.requests == []


async def test_a_registry_command_refuses_too_many_files_before_downloading_any(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "COMMANDS", (*registry.COMMANDS, STAMP))
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        two = [slack.add_user_file(f"p{i}.png", png()) for i in range(2)]
        await h.event(app_mention_event("stamp hello", bot_user_id=slack.bot_user_id, files=two))
        [note] = await slack.wait_for(lambda: slack.ephemerals)
        assert "stamp takes one image; you gave 2." in note["text"]
        await h.adapter.wait_idle(10)
    assert slack.downloads == []


async def test_a_mention_naming_a_command_that_takes_no_images_is_a_prompt(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        mention = app_mention_event("history of rome --n 1", bot_user_id=slack.bot_user_id)
        message = slack.add_user_message(CHANNEL, mention["text"])
        mention["ts"] = mention["event_ts"] = message["ts"]
        await h.event(mention)
        await h.wait_for_files(message["ts"])
        [request] = fake_openai.requests
        assert request.fields["prompt"] == "history of rome"


async def test_in_a_session_a_mention_saying_edit_without_a_file_edits_the_current_image(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        thread, _ = await imagine_and_wait(h, "a teapot --n 1")
        await h.event(app_mention_event("edit make it blue", thread_ts=thread, bot_user_id=slack.bot_user_id))
        edit = await fake_openai.wait_for_requests(2)
        assert edit.endpoint == "edits"
        assert [f.data for f in edit.images] == [fake_openai.returned[0][0]]
        assert "make it blue" in edit.fields["prompt"]
        assert "edit make it blue" not in edit.fields["prompt"]
        await h.wait_for_files(thread, count=2)


async def test_in_a_session_a_mention_that_does_not_read_as_its_command_is_an_edit(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    # "style" takes an action first (save, list, ...): "style it like Monet" is an instruction.
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        thread, _ = await imagine_and_wait(h, "a teapot --n 1")
        mention = app_mention_event("style it like Monet", thread_ts=thread, bot_user_id=slack.bot_user_id)
        await h.event(mention)
        edit = await fake_openai.wait_for_requests(2)
        assert edit.endpoint == "edits"
        assert "style it like Monet" in edit.fields["prompt"]
        await h.wait_for_files(thread, count=2)
        # ... while one that does read as it runs the command.
        await h.event(app_mention_event("style list", thread_ts=thread, bot_user_id=slack.bot_user_id))
        [note] = await slack.wait_for(lambda: slack.ephemerals)
        assert "style" in note["text"].lower()
        await h.adapter.wait_idle(10)
    assert len(fake_openai.requests) == 2
