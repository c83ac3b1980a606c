"""The fake Discord (tests/fakes/discord/) driven by the real discord.py 2.7.1 client."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.http import Route

from tests.fakes.discord import (
    DEFAULT_FILE_SIZE_LIMIT,
    FakeDiscord,
    connected_client,
    feed,
    patched_discord,
    running_client,
)
from tests.helpers import png

TIMEOUT = 5.0


class Errors(list[BaseException]):
    """App-command errors of a test client; ``raised`` is set on the first one."""

    def __init__(self) -> None:
        super().__init__()
        self.raised = asyncio.Event()


def make_client(**kwargs: Any) -> tuple[discord.Client, app_commands.CommandTree, Errors]:
    """A client plus command tree whose command errors are collected instead of only being logged."""
    client = discord.Client(intents=kwargs.pop("intents", discord.Intents.default()), **kwargs)
    tree = app_commands.CommandTree(client)
    errors = Errors()

    @tree.error
    async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        errors.append(error)
        errors.raised.set()

    return client, tree, errors


async def wait_event(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), TIMEOUT)


async def raw_post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
        return resp.status, await resp.json()


# ---------------------------------------------------------------------------------- login and sync


async def test_login_and_command_sync() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild("Studio")
        client, tree, _ = make_client()

        @tree.command(description="Make an image")
        async def imagine(
            interaction: discord.Interaction, prompt: str, image: discord.Attachment | None = None
        ):
            pass

        base_before = Route.BASE
        async with connected_client(client, fake):
            assert client.user is not None
            assert str(client.user.id) == fake.bot_user["id"]
            assert str(client.application_id) == fake.application_id
            assert client.get_guild(int(guild["id"])) is not None
            assert fake.api_base == Route.BASE

            synced = await tree.sync()
            assert [c.name for c in synced] == ["imagine"]
            assert [c["name"] for c in fake.global_commands()] == ["imagine"]
            options = fake.global_commands()[0]["options"]
            assert [(o["name"], o["type"], o.get("required", False)) for o in options] == [
                ("prompt", 3, True),
                ("image", 11, False),
            ]

            target = discord.Object(int(guild["id"]))
            tree.copy_global_to(guild=target)
            guild_synced = await tree.sync(guild=target)
            assert [c.guild_id for c in guild_synced] == [target.id]
            assert [c["name"] for c in fake.guild_commands(guild["id"])] == ["imagine"]
            # Re-syncing keeps command ids stable, like Discord's bulk overwrite.
            assert [c.id for c in await tree.sync()] == [c.id for c in synced]

            bad = [{"name": "Imagine", "description": "x" * 101, "type": 1}]
            with pytest.raises(discord.HTTPException) as err:
                await client.http.bulk_upsert_global_commands(client.application_id, payload=bad)
            assert err.value.status == 400
            assert err.value.code == 50035
            assert "0.name" in err.value.text
            assert "0.description" in err.value.text
        assert base_before == Route.BASE
        assert [c.path for c in fake.calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]


async def test_wrong_token_is_a_login_failure() -> None:
    async with FakeDiscord() as fake:
        client = discord.Client(intents=discord.Intents.default())
        with patched_discord(fake):
            try:
                with pytest.raises(discord.LoginFailure):
                    await client.login("not-the-token")
            finally:
                await client.close()


# ---------------------------------------------------------------------------------- slash commands


class JobView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(discord.ui.Button(label="Vary", custom_id="job:vary"))
        self.add_item(discord.ui.Button(label="Upscale", custom_id="job:upscale"))


async def test_slash_with_attachment_defers_then_edits_with_file_and_view() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        client, tree, errors = make_client()
        seen: dict[str, Any] = {}
        done = asyncio.Event()

        @tree.command(description="Edit an image")
        async def edit(interaction: discord.Interaction, prompt: str, image: discord.Attachment):
            await interaction.response.defer(thinking=True)
            source = await image.read()
            seen.update(
                prompt=prompt,
                source=source,
                limit=interaction.filesize_limit,
                size=(image.width, image.height),
            )
            await interaction.edit_original_response(
                content=f"done: {prompt}",
                attachments=[discord.File(io.BytesIO(source[::-1]), filename="result.png")],
                view=JobView(),
            )
            try:
                await interaction.response.send_message("again")
            except discord.InteractionResponded as exc:
                seen["second"] = exc
            done.set()

        async with connected_client(client, fake):
            await tree.sync()
            source = png(8, 6, color=(200, 10, 10))
            attachment = fake.add_attachment("cat.png", source)
            payload = fake.slash_interaction("edit", {"prompt": "a hat", "image": attachment})
            feed(client, "INTERACTION_CREATE", payload)
            await wait_event(done)

        assert errors == []
        assert seen["prompt"] == "a hat"
        assert seen["source"] == source
        assert seen["size"] == (8, 6)
        assert seen["limit"] == DEFAULT_FILE_SIZE_LIMIT
        assert isinstance(seen["second"], discord.InteractionResponded)
        assert fake.interaction_responses[payload["id"]] == {"type": 5, "data": {}}

        original = fake.original_message(payload["id"])
        assert original is not None
        assert original["channel_id"] == payload["channel_id"]
        assert original["content"] == "done: a hat"
        assert original["flags"] == 0  # loading flag cleared
        assert original["interaction_metadata"]["name"] == "edit"
        [result] = original["attachments"]
        assert result["filename"] == "result.png"
        assert result["content_type"] == "image/png"
        assert fake.file_bytes(result) == source[::-1]
        buttons = [c for row in original["components"] for c in row["components"]]
        assert [(b["label"], b["custom_id"]) for b in buttons] == [
            ("Vary", "job:vary"),
            ("Upscale", "job:upscale"),
        ]
        patch = fake.calls_to("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")[0]
        assert [f.filename for f in patch.files] == ["result.png"]
        assert patch.json["content"] == "done: a hat"
        assert [m["id"] for m in fake.messages_in(guild["channels"][0]["id"])] == [original["id"]]

        # discord.py refused the second response locally; the server would have said 40060 anyway.
        callback = f"{fake.api_base}/interactions/{payload['id']}/{payload['token']}/callback"
        status, body = await raw_post(callback, {"type": 4, "data": {"content": "again"}})
        assert status == 400
        assert body["code"] == 40060


async def test_late_initial_response_is_unknown_interaction() -> None:
    async with FakeDiscord(initial_response_deadline=0.0) as fake:
        fake.make_guild()
        client, tree, errors = make_client()

        @tree.command(description="Ping")
        async def ping(interaction: discord.Interaction):
            await interaction.response.send_message("pong")

        async with connected_client(client, fake):
            await tree.sync()
            feed(client, "INTERACTION_CREATE", fake.slash_interaction("ping"))
            await wait_event(errors.raised)
        original = errors[0].original  # type: ignore[attr-defined]
        assert isinstance(original, discord.NotFound)
        assert original.code == 10062
        assert len(fake.unacknowledged_interactions()) == 1


async def test_first_followup_after_defer_replaces_thinking_message() -> None:
    async with FakeDiscord() as fake:
        fake.make_guild()
        client, tree, errors = make_client()
        done = asyncio.Event()

        @tree.command(description="Secret")
        async def secret(interaction: discord.Interaction):
            await interaction.response.defer(ephemeral=True, thinking=True)
            first = await interaction.followup.send("first", wait=True)
            second = await interaction.followup.send("second", wait=True)
            done.ids = (first.id, second.id)  # type: ignore[attr-defined]
            done.set()

        async with connected_client(client, fake):
            await tree.sync()
            payload = fake.slash_interaction("secret")
            feed(client, "INTERACTION_CREATE", payload)
            await wait_event(done)
        assert errors == []
        first_id, second_id = done.ids  # type: ignore[attr-defined]
        assert str(first_id) == fake.original_message(payload["id"])["id"]
        assert [m["content"] for m in fake.followups(payload["id"])] == ["first", "second"]
        # The first followup inherits the ephemeral defer; the second is a normal (public) message.
        assert [bool(m["flags"] & 64) for m in fake.followups(payload["id"])] == [True, False]
        assert str(second_id) != str(first_id)


# ---------------------------------------------------------------------------------- components


class VaryButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"v1:vary:(?P<job>[0-9a-f]{8}):(?P<idx>[0-3])"
):
    clicks: list[tuple[str, int, int]] = []  # noqa: RUF012 - test-local record

    def __init__(self, job: str, idx: int) -> None:
        super().__init__(discord.ui.Button(label=f"V{idx + 1}", custom_id=f"v1:vary:{job}:{idx}"))
        self.job, self.idx = job, idx

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match, /):
        return cls(match["job"], int(match["idx"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        VaryButton.clicks.append((self.job, self.idx, interaction.id))
        await interaction.response.defer()


async def test_dynamic_item_dispatch_needs_the_component_on_the_message() -> None:
    VaryButton.clicks = []
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        client, _tree, _ = make_client()
        seen_interactions: list[int] = []
        client.add_dynamic_items(VaryButton)

        @client.event
        async def on_interaction(interaction: discord.Interaction) -> None:
            seen_interactions.append(interaction.id)

        async with connected_client(client, fake):
            channel = client.get_channel(int(guild["channels"][0]["id"]))
            view = discord.ui.View(timeout=None)
            for idx in range(2):
                view.add_item(VaryButton("deadbeef", idx))
            sent = await channel.send("pick one", view=view)
            posted = fake.message(sent.id)
            assert [c["custom_id"] for c in posted["components"][0]["components"]] == [
                "v1:vary:deadbeef:0",
                "v1:vary:deadbeef:1",
            ]

            with pytest.raises(ValueError, match="has no component with custom_id"):
                fake.component_interaction(posted, "v1:vary:deadbeef:3")
            # Matches the template but is not on the message: discord.py drops it silently.
            missing = fake.component_interaction(posted, "v1:vary:deadbeef:3", strict=False)
            clicked = fake.component_interaction(posted, "v1:vary:deadbeef:1")
            feed(client, "INTERACTION_CREATE", missing)
            feed(client, "INTERACTION_CREATE", clicked)
            await fake.wait_for(lambda f: clicked["id"] in f.interaction_responses)

        # Both dispatch tasks were scheduled in order and the missing one returns without awaiting, so it
        # has finished by the time the clicked one answered.
        assert VaryButton.clicks == [("deadbeef", 1, int(clicked["id"]))]
        assert fake.interaction_responses[clicked["id"]] == {"type": 6, "data": {}}
        assert missing["id"] not in fake.interaction_responses
        assert [str(i) for i in seen_interactions] == [missing["id"], clicked["id"]]
        assert [i.id for i in fake.unacknowledged_interactions()] == [missing["id"]]


# ---------------------------------------------------------------------------------- modals


class PromptModal(discord.ui.Modal, title="Edit prompt"):
    prompt = discord.ui.TextInput(label="Prompt", custom_id="prompt", style=discord.TextStyle.paragraph)

    def __init__(self, done: asyncio.Event, seen: dict[str, Any]) -> None:
        super().__init__(custom_id="modal:edit:1234")
        self.done, self.seen = done, seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen["value"] = self.prompt.value
        await interaction.response.send_message(f"new prompt: {self.prompt.value}", ephemeral=True)
        self.done.set()


async def test_modal_opened_as_initial_response_and_submitted() -> None:
    async with FakeDiscord() as fake:
        fake.make_guild()
        client, tree, errors = make_client()
        done, seen = asyncio.Event(), {}
        submits: list[discord.Interaction] = []

        @tree.command(description="Edit prompt")
        async def reprompt(interaction: discord.Interaction):
            await interaction.response.send_modal(PromptModal(done, seen))

        @client.event
        async def on_interaction(interaction: discord.Interaction) -> None:
            if interaction.type is discord.InteractionType.modal_submit:
                submits.append(interaction)

        completed = asyncio.Event()

        @client.event
        async def on_app_command_completion(interaction: discord.Interaction, command: Any) -> None:
            completed.set()

        async with connected_client(client, fake):
            await tree.sync()
            opener = fake.slash_interaction("reprompt")
            feed(client, "INTERACTION_CREATE", opener)
            # The fake sees the type-9 callback before discord.py stores the modal (it does so only after
            # the HTTP reply), so wait for the command to complete on the client side, not just the fake.
            await wait_event(completed)
            response = fake.interaction_responses[opener["id"]]
            assert response["type"] == 9
            assert response["data"]["title"] == "Edit prompt"
            assert response["data"]["custom_id"] == "modal:edit:1234"

            with pytest.raises(ValueError, match="required text input 'prompt' missing"):
                fake.modal_submit("modal:edit:1234", {"nope": "x"})
            submit = fake.modal_submit("modal:edit:1234", {"prompt": "a dog"})
            assert submit["channel_id"] == opener["channel_id"]
            feed(client, "INTERACTION_CREATE", submit)
            await wait_event(done)

        assert errors == []
        assert seen["value"] == "a dog"
        assert [i.data["custom_id"] for i in submits] == ["modal:edit:1234"]  # type: ignore[index]
        reply = fake.original_message(submit["id"])
        assert reply["content"] == "new prompt: a dog"
        assert reply["flags"] & 64
        # A modal cannot be answered with a modal, and the title has Discord's 45-char limit.
        other = fake.slash_interaction("reprompt")
        callback = f"{fake.api_base}/interactions/{other['id']}/{other['token']}/callback"
        modal = {"custom_id": "m", "title": "x" * 46, "components": []}
        status, body = await raw_post(callback, {"type": 9, "data": modal})
        assert status == 400
        assert body["code"] == 50035
        assert set(body["errors"]["data"]) == {"title", "components"}


# ---------------------------------------------------------------------------------- limits


async def test_discord_limits_are_enforced() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        client, _tree, _ = make_client()
        async with connected_client(client, fake):
            channel = client.get_channel(int(guild["channels"][0]["id"]))

            big = discord.File(io.BytesIO(b"\0" * (11 * 1024 * 1024)), filename="big.png")
            with pytest.raises(discord.HTTPException) as err:
                await channel.send(file=big)
            assert err.value.status == 413
            assert err.value.code == 40005

            files = [discord.File(io.BytesIO(b"x"), filename=f"{i}.txt") for i in range(11)]
            with pytest.raises(discord.HTTPException) as err:
                await channel.send(files=files)
            assert err.value.status == 400
            assert err.value.code == 50035

            with pytest.raises(discord.HTTPException) as err:
                await channel.send("x" * 2001)
            assert err.value.status == 400
            assert "content" in err.value.text

            # discord.py refuses a 6th row client-side, so send the raw payload.
            rows = [
                {"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"c{i}"}]}
                for i in range(6)
            ]
            route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
            with pytest.raises(discord.HTTPException) as err:
                await client.http.request(route, json={"content": "rows", "components": rows})
            assert err.value.status == 400
            assert err.value.code == 50035

            # discord.py does not check custom_id length or uniqueness, Discord does.
            view = discord.ui.View()
            view.add_item(discord.ui.Button(label="a", custom_id="x" * 101))
            with pytest.raises(discord.HTTPException, match="custom_id"):
                await channel.send("long id", view=view)
            view = discord.ui.View()
            view.add_item(discord.ui.Button(label="a", custom_id="same"))
            view.add_item(discord.ui.Button(label="b", custom_id="same"))
            with pytest.raises(discord.HTTPException, match="duplicated"):
                await channel.send("dup id", view=view)

            with pytest.raises(discord.HTTPException) as err:
                await channel.send("")
            assert err.value.code == 50006

            ok = await channel.send(
                "fits", file=discord.File(io.BytesIO(b"\0" * DEFAULT_FILE_SIZE_LIMIT), "ok.bin")
            )
            assert ok.attachments[0].size == DEFAULT_FILE_SIZE_LIMIT
        assert [m["content"] for m in fake.messages_in(channel.id)] == ["fits"]


# ---------------------------------------------------------------------------------- threads and messages


async def test_thread_from_message_and_on_message_in_it() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        intents = discord.Intents.default()
        intents.message_content = True
        client, _tree, _ = make_client(intents=intents)
        got = asyncio.Event()
        seen: list[discord.Message] = []

        @client.event
        async def on_message(message: discord.Message) -> None:
            seen.append(message)
            got.set()

        async with connected_client(client, fake):
            channel = client.get_channel(int(guild["channels"][0]["id"]))
            root = await channel.send("starting a job")
            with pytest.raises(discord.HTTPException) as err:
                await root.create_thread(name="x" * 101)
            assert err.value.code == 50035
            thread = await root.create_thread(name="Job deadbeef")
            stored = fake.channels[thread.id]
            assert stored["type"] == 11
            assert stored["parent_id"] == str(channel.id)
            assert thread.id == root.id
            assert fake.message(root.id)["thread"]["id"] == str(thread.id)
            with pytest.raises(discord.HTTPException) as err:
                await root.create_thread(name="again")
            assert err.value.code == 160004

            feed(client, "THREAD_CREATE", fake.thread_create(thread.id))
            feed(client, "MESSAGE_CREATE", fake.message_create(thread.id, "make it blue"))
            await wait_event(got)
            reply = await seen[0].channel.send("on it")

        [message] = seen
        assert isinstance(message.channel, discord.Thread)
        assert message.channel.id == thread.id
        assert message.channel.parent_id == channel.id
        assert message.content == "make it blue"
        assert [m["content"] for m in fake.messages_in(thread.id)] == ["make it blue", "on it"]
        assert fake.message(reply.id)["channel_id"] == str(thread.id)


async def test_registered_attachment_is_readable() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        intents = discord.Intents.default()
        intents.message_content = True
        client, _tree, _ = make_client(intents=intents)
        got = asyncio.Event()
        data: dict[str, Any] = {}

        @client.event
        async def on_message(message: discord.Message) -> None:
            att = message.attachments[0]
            data.update(bytes=await att.read(), type=att.content_type, size=(att.width, att.height))
            got.set()

        async with connected_client(client, fake):
            image = png(5, 7, color=(200, 10, 10))
            att = fake.add_attachment("ref image.png", image)
            assert att["filename"] == "ref_image.png"
            assert att["size"] == len(image)
            payload = fake.message_create(guild["channels"][0]["id"], "use this", attachments=[att])
            feed(client, "MESSAGE_CREATE", payload)
            await wait_event(got)
        assert data == {"bytes": image, "type": "image/png", "size": (5, 7)}


async def test_429_with_via_is_retried_by_discord_py() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        client, _tree, _ = make_client()
        async with connected_client(client, fake):
            cid = guild["channels"][0]["id"]
            fake.rate_limit_next(f"/channels/{cid}/messages", retry_after=0.01, method="POST")
            sent = await client.get_channel(int(cid)).send("after a 429")
        attempts = fake.calls_to("POST", rf"/channels/{cid}/messages")
        assert [c.status for c in attempts] == [429, 200]
        assert attempts[0].response["retry_after"] == 0.01
        assert fake.message(sent.id)["content"] == "after a 429"


# ---------------------------------------------------------------------------------- strictness and gateway


async def test_unknown_route_is_recorded_and_fails_the_fake() -> None:
    fake = FakeDiscord()
    await fake.start()
    client, _tree, _ = make_client()
    async with connected_client(client, fake):
        with pytest.raises(discord.NotFound):
            await client.http.request(Route("GET", "/guilds/{guild_id}/bans", guild_id=1))
    assert fake.unexpected == ["GET /api/v10/guilds/1/bans"]
    with pytest.raises(AssertionError, match="unexpected"):
        await fake.__aexit__(None, None, None)


async def test_gateway_client_receives_events_and_echoes() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        seen: list[discord.Message] = []
        got = asyncio.Event()

        @client.event
        async def on_message(message: discord.Message) -> None:
            seen.append(message)
            if len(seen) == 2:
                got.set()

        async with running_client(client, fake):
            assert client.get_guild(int(guild["id"])) is not None
            channel = client.get_channel(int(guild["channels"][0]["id"]))
            await fake.dispatch("MESSAGE_CREATE", fake.message_create(channel.id, "secret words"))
            await channel.send("bot says hi")  # echoed back as MESSAGE_CREATE, as Discord does
            await wait_event(got)
        # Without the message-content intent other users' content arrives empty; the bot's own does not.
        assert [(m.author.id == client.user.id, m.content) for m in seen] == [
            (False, ""),
            (True, "bot says hi"),
        ]
        assert [s for s in fake.gateway_sessions] == []


class StyleView(discord.ui.View):
    def __init__(self, done: asyncio.Event) -> None:
        super().__init__(timeout=None)
        self.done = done

    @discord.ui.select(
        custom_id="job:style",
        options=[
            discord.SelectOption(label="Photo", value="photo"),
            discord.SelectOption(label="Ink", value="ink"),
        ],
    )
    async def style(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.edit_message(content=f"style: {select.values[0]}", view=None)
        self.done.set()


async def test_select_menu_answered_by_updating_the_message() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        client, _tree, _ = make_client()
        done = asyncio.Event()
        async with connected_client(client, fake):
            channel = client.get_channel(int(guild["channels"][0]["id"]))
            sent = await channel.send("choose a style", view=StyleView(done))
            posted = fake.message(sent.id)
            assert posted["components"][0]["components"][0]["type"] == 3
            with pytest.raises(ValueError, match="is a type 3 component, not 2"):
                fake.component_interaction(posted, "job:style", values=None, component_type=2)
            with pytest.raises(ValueError, match="are not options of"):
                fake.component_interaction(posted, "job:style", values=["oil"])
            click = fake.component_interaction(posted, "job:style", values=["ink"])
            feed(client, "INTERACTION_CREATE", click)
            await wait_event(done)
        assert fake.interaction_responses[click["id"]]["type"] == 7
        updated = fake.message(sent.id)
        assert updated["content"] == "style: ink"
        assert updated["components"] == []
        assert updated["edited_timestamp"] is not None


async def test_slash_command_in_a_dm() -> None:
    async with FakeDiscord() as fake:
        client, tree, errors = make_client()
        done = asyncio.Event()
        seen: dict[str, Any] = {}

        @tree.command(description="Ping")
        async def ping(interaction: discord.Interaction):
            seen.update(guild=interaction.guild_id, channel=type(interaction.channel).__name__)
            await interaction.response.send_message("pong")
            done.set()

        async with connected_client(client, fake):
            await tree.sync()
            dm = fake.make_dm(fake.default_user)
            payload = fake.slash_interaction("ping", channel=dm)
            assert "member" not in payload
            assert payload["user"]["id"] == fake.default_user["id"]
            feed(client, "INTERACTION_CREATE", payload)
            await wait_event(done)
        assert errors == []
        assert seen == {"guild": None, "channel": "DMChannel"}
        assert [m["content"] for m in fake.messages_in(dm["id"])] == ["pong"]


# ---------------------------------------------------------------------------------- mentions


async def test_pings_follow_allowed_mentions_and_every_message_body_is_recorded() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild()
        roles = fake.guilds[guild["id"]]["roles"]
        role_id = fake.snowflake()
        roles.append({**roles[0], "id": role_id, "name": "artists"})  # not mentionable: needs the permission
        victim = fake.make_user("victim")
        hostile = f"@everyone @here <@&{role_id}> <@{victim['id']}> hi"
        client, _tree, _ = make_client()
        async with connected_client(client, fake):
            channel = client.get_channel(int(guild["channels"][0]["id"]))
            loud = await channel.send(hostile)  # no allowed_mentions: Discord parses everything
            quiet = await channel.send(hostile, allowed_mentions=discord.AllowedMentions.none())
            only_victim = await channel.send(
                hostile,
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(id=int(victim["id"]))]
                ),
            )
            await quiet.edit(content=hostile + "!", allowed_mentions=None)

        stored = fake.message(loud.id)
        assert stored["mention_everyone"]
        assert stored["mention_roles"] == [role_id]
        assert [u["id"] for u in stored["mentions"]] == [victim["id"]]
        assert [u["id"] for u in fake.message(only_victim.id)["mentions"]] == [victim["id"]]
        assert not fake.message(only_victim.id)["mention_everyone"]
        quiet_stored = fake.message(quiet.id)
        assert quiet_stored["content"].endswith("!")  # an edit without allowed_mentions parses again
        assert [m["id"] for m in fake.bot_pings()] == [str(loud.id), str(quiet.id), str(only_victim.id)]
        bodies = [body.get("allowed_mentions") for _, body in fake.message_requests()]
        assert bodies[:2] == [None, {"parse": []}]
        assert bodies[3] is None
        assert bodies[2]["parse"] == []
        assert bodies[2]["users"] == [int(victim["id"])]


async def test_an_attachment_can_lie_about_its_size_and_the_cdn_streams_the_truth() -> None:
    async with FakeDiscord() as fake:
        image = png(5, 7, color=(200, 10, 10))
        extra = 32 * 1024 * 1024
        att = fake.add_attachment("small.png", image, "image/png", declared_size=100, extra_bytes=extra)
        assert att["size"] == 100
        async with aiohttp.ClientSession() as session:
            async with session.get(att["url"]) as response:
                assert response.status == 200
                assert response.content_length is None  # chunked
                head = await response.content.readexactly(len(image) + 10)
            # Hung up after a few bytes: the fake stops writing long before the whole body.
            assert head[: len(image)] == image
            assert head[len(image) :] == bytes(10)
            await fake.wait_for(lambda f: f.calls_to("GET", r"/cdn/.*")[-1].status == 200)
            assert fake.cdn_bytes_sent[att["id"]] < extra // 2
            async with session.get(att["url"]) as response:
                whole = await response.read()
        assert len(whole) == len(image) + extra


async def test_enforce_nonce_returns_the_earlier_message_within_the_window_only() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild("g", channels=["general"])
        channel_id = next(c["id"] for c in fake.channels.values() if c.get("guild_id") == guild["id"])
        client = discord.Client(intents=discord.Intents.default())
        async with connected_client(client, fake):
            channel = client.get_partial_messageable(int(channel_id))
            first = await channel.send("result one", nonce="ib:o:1234")
            again = await channel.send("result one", nonce="ib:o:1234")
            other = await channel.send("result two", nonce="ib:o:5678")
            assert again.id == first.id
            assert other.id != first.id
            assert first.nonce == "ib:o:1234"  # returned on the create response
            assert [m["content"] for m in fake.messages_in(channel_id)] == ["result one", "result two"]
            fake.nonce_window = 0.0  # past Discord's few minutes: a new message
            later = await channel.send("result one", nonce="ib:o:1234")
            assert later.id != first.id
            assert len(fake.messages_in(channel_id)) == 3


async def test_injected_faults_answer_429_with_via_then_5xx_without_effect() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild("g", channels=["general"])
        channel_id = next(c["id"] for c in fake.channels.values() if c.get("guild_id") == guild["id"])
        client = discord.Client(intents=discord.Intents.default())
        async with connected_client(client, fake):
            channel = client.get_partial_messageable(int(channel_id))
            route = rf"/channels/{channel_id}/messages"
            fake.fail_for(0.3, route, status=429, retry_after=0.1)
            sent = await channel.send("through after a rate limit")  # discord.py retries a 429 with Via
            assert fake.messages_in(channel_id)[-1]["id"] == str(sent.id)
            assert any(c.status == 429 for c in fake.calls_to("POST", route))
            fake.fail_for(None, route, status=503)  # (500/502/504 are retried by discord.py for 16 s first)
            with pytest.raises(discord.DiscordServerError):
                await channel.send("lost in an outage")
            assert [m["content"] for m in fake.messages_in(channel_id)] == ["through after a rate limit"]
            fake.recover(route)  # the outage is over
            await channel.send("through after the outage")
            assert fake.messages_in(channel_id)[-1]["content"] == "through after the outage"


async def test_a_held_response_keeps_the_message_the_client_never_hears_of() -> None:
    async with FakeDiscord() as fake:
        guild = fake.make_guild("g", channels=["general"])
        channel_id = next(c["id"] for c in fake.channels.values() if c.get("guild_id") == guild["id"])
        client = discord.Client(intents=discord.Intents.default())
        async with connected_client(client, fake):
            channel = client.get_partial_messageable(int(channel_id))
            release = fake.hold_response("POST", rf"/channels/{channel_id}/messages")
            sending = asyncio.create_task(channel.send("posted", nonce="n1"))
            await fake.wait_for(lambda f: f.held, timeout=TIMEOUT)
            assert [m["content"] for m in fake.messages_in(channel_id)] == ["posted"]
            assert not sending.done()
            release.set()
            assert (await asyncio.wait_for(sending, TIMEOUT)).content == "posted"
            history = [m async for m in channel.history(limit=50)]
            assert [m.content for m in history] == ["posted"]
            assert history[0].nonce is None
