"""Nothing a user types can make the bot ping anyone on Discord (issue 7, item 1).

Prompts are echoed in captions, thread replies, late deliveries and error messages. Discord
parses every mention in a bot message unless `allowed_mentions` says otherwise, so each message
the bot sends or edits must carry `allowed_mentions` with nothing to parse.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.integration.test_discord_adapter import (
    button_ids,
    channel_id,
    discord_bot,
    done_message,
    imagine,
    original_containing,
    settings_for,
)


def hostile_text(fake: FakeDiscord) -> str:
    """Every kind of ping a member could type: everyone, here, a role and another member."""
    guild_id = next(iter(fake.guilds))
    roles = fake.guilds[guild_id]["roles"]
    role_id = fake.snowflake()
    roles.append({**roles[0], "id": role_id, "name": "artists", "mentionable": True})
    victim = fake.make_user("victim")
    fake.make_member(guild_id, victim)
    return f"@everyone @here <@&{role_id}> <@{victim['id']}>"


def route_kind(path: str, body: dict) -> str:
    if path.startswith("/interactions/"):
        return "callback"
    if path.startswith("/webhooks/"):
        return "webhook edit" if "/messages/" in path else "followup"
    return "channel edit" if re.fullmatch(r"/channels/\d+/messages/\d+", path) else "channel send"


async def test_no_message_the_bot_sends_or_edits_can_ping(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    hostile = hostile_text(fake)
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        # /imagine with the pings in the prompt: the caption (original response) quotes it.
        _, result = await imagine(fake, f"{hostile} a fox --n 2")
        thread_id = result["id"]
        user = fake.default_user

        # U1: the selected image, posted into the thread with the bot token.
        u1 = next(c for c in button_ids(result) if c.startswith("ib:u:") and c.endswith(":1"))
        await fake.dispatch("INTERACTION_CREATE", fake.component_interaction(result["id"], u1, user))
        selected = await fake.wait_for(lambda f: done_message(f, thread_id, "Image 1"))

        # V1: a status message in the thread, edited into the result.
        v1 = next(c for c in button_ids(result) if c.startswith("ib:v:") and c.endswith(":1"))
        await fake.dispatch("INTERACTION_CREATE", fake.component_interaction(result["id"], v1, user))
        await fake.wait_for(lambda f: done_message(f, thread_id, "variations"))

        # A reply in the thread edits the current image with an instruction full of pings...
        edit = fake.message_create(thread_id, f"#1 {hostile} make it blue")
        await fake.dispatch("MESSAGE_CREATE", edit)
        await fake.wait_for(lambda f: done_message(f, thread_id, "Edited"))
        # ...and "undo" goes back to the image it came from.
        await fake.dispatch("MESSAGE_CREATE", fake.message_create(thread_id, "undo"))
        await fake.wait_for(lambda f: done_message(f, thread_id, "Back to"))

        # Edit… on the selected image: the form's instruction, an ephemeral followup, a thread post.
        edit_id = next(c for c in button_ids(selected) if c.startswith("ib:edit:"))
        click = fake.component_interaction(selected["id"], edit_id, user)
        await fake.dispatch("INTERACTION_CREATE", click)
        await fake.wait_for(lambda f: f.interactions[click["id"]].response is not None)
        form_id = fake.interaction_responses[click["id"]]["data"]["custom_id"]
        submit = fake.modal_submit(form_id, {"instruction": f"{hostile} add a moon"})
        await fake.dispatch("INTERACTION_CREATE", submit)
        await fake.wait_for(lambda f: f.followups(submit["id"]))
        await fake.wait_for(
            lambda f: sum(1 for m in f.messages_in(thread_id) if "Edited" in m["content"]) >= 2, timeout=10
        )

        # A failure quoting the prompt (the safety system refused it) and a refused option.
        fake_openai.refuse_next("violence")
        refused = fake.slash_interaction(
            "imagine", {"prompt": f"{hostile} a battle --n 1"}, channel=channel_id(fake)
        )
        await fake.dispatch("INTERACTION_CREATE", refused)
        await original_containing(fake, refused, "safety system")
        bad = fake.slash_interaction(
            "imagine", {"prompt": f"{hostile} --size 1000x1000"}, channel=channel_id(fake)
        )
        await fake.dispatch("INTERACTION_CREATE", bad)
        await fake.wait_for(lambda f: f.followups(bad["id"]))

        # An initial response that is a message (type 4).
        text_only = fake.message_create(channel_id(fake), f"{hostile} no picture")
        nothing = fake.context_menu_interaction("Vary image", text_only, channel=channel_id(fake))
        await fake.dispatch("INTERACTION_CREATE", nothing)
        await fake.wait_for(lambda f: f.interactions[nothing["id"]].response is not None)

        # A result that arrives after the interaction token expired goes to the thread.
        fake_openai.gate = asyncio.Event()
        late = fake.slash_interaction(
            "imagine", {"prompt": f"{hostile} slow --n 1"}, channel=channel_id(fake)
        )
        await fake.dispatch("INTERACTION_CREATE", late)
        queued = await original_containing(fake, late, "Job")
        await fake_openai.wait_for_requests(len(fake_openai.requests) + 1)
        fake.expire_interaction(late["id"])
        fake_openai.gate.set()
        await fake.wait_for(lambda f: done_message(f, queued["id"], "Here you go"), timeout=15)

    sent = fake.message_requests()
    kinds = {route_kind(call.path, body) for call, body in sent}
    assert kinds == {"callback", "followup", "webhook edit", "channel send", "channel edit"}
    # The pings really were echoed: only allowed_mentions keeps them quiet.
    assert sum("@everyone" in body.get("content", "") for _, body in sent) >= 5
    unguarded = [
        (call, body.get("allowed_mentions"))
        for call, body in sent
        if body.get("allowed_mentions") is None
        or body["allowed_mentions"].get("parse") != []
        or body["allowed_mentions"].get("users")
        or body["allowed_mentions"].get("roles")
    ]
    assert unguarded == []
    assert fake.bot_pings() == []
