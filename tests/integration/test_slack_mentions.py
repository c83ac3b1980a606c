"""Text people typed is data, never markup: a prompt, an instruction, a display name or a file name
with `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>` or `<@U…>` in it must never reach a
channel through the bot as a working mention, nor carry control characters or bidi overrides.

A whole session runs with hostile text everywhere (imagine, button presses, a thread-reply edit,
the Edit… form, a failure, history, show, a refused file); then every text the bot sent to Slack
(posts, updates, ephemerals, upload comments, response_url answers, modals) is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

from adapters.slack import SlackUser
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, message_event, new_trigger_id, view_submission_body
from tests.integration.test_slack_adapter import (
    ALICE,
    CHANNEL,
    action_ids,
    find_action,
    running_slack,
    slack_settings,
)

# How Slack delivers what people typed: "@channel" typed in the composer arrives as <!channel>;
# "<!here>" typed literally arrives entity-escaped (&lt;!here&gt;), so it reads back as <!here>.
HOSTILE = (
    "<!everyone> <!channel> &lt;!here&gt; <!subteam^S123|@designers> <@U0BOB> "
    "&lt;@U0CAROL&gt; &amp;lt;!channel&amp;gt; \u202eevil\u202c \x1b[31mred\x1b[0m"
)
HOSTILE_NAME = "<!channel> Eve\u202e <@U0BOB>"
MARKUP = ("<!", "<@", "<#")
CONTROLS = ("\u202e", "\u202c", "\x1b")


def sent_texts(slack: FakeSlack) -> list[tuple[str, str]]:
    """(where, text) for everything the bot asked Slack to show, as Slack received it."""
    out: list[tuple[str, str]] = []
    for call in slack.calls:
        args = call.args
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            out.append((call.method, str(args.get("text") or "")))
            if args.get("blocks"):
                out.append((call.method + " blocks", json.dumps(args["blocks"], ensure_ascii=False)))
        elif call.method == "files.completeUploadExternal":
            out.append((call.method, str(args.get("initial_comment") or "")))
        elif call.method in ("views.open", "views.push", "views.update"):
            view = args.get("view")
            out.append((call.method, view if isinstance(view, str) else json.dumps(view, ensure_ascii=False)))
        elif call.method == "response_url":
            out.append((call.method, json.dumps(args, ensure_ascii=False)))
    return out


async def hostile_lookup(team_id: str, user_id: str) -> SlackUser | None:
    return SlackUser(HOSTILE_NAME if user_id == ALICE else "bob", is_admin=False)


async def test_nothing_people_typed_reaches_a_channel_as_a_mention(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with FakeSlack() as slack:
        settings = slack_settings(data_dir, slack, fake_openai)
        async with running_slack(settings, slack, user_lookup=hostile_lookup) as h:
            # /imagine: the parent message, its status updates, the grid's comment, the buttons.
            await h.command("/imagine", f"{HOSTILE} --n 2")
            [parent] = await slack.wait_for(lambda: h.parents())
            thread = parent["ts"]
            grid_actions = await h.wait_for_actions(thread)
            await slack.wait_for(lambda: "✅ Done" in slack.message(CHANNEL, thread)["text"])

            # A button press: U1 posts that image with its caption (the prompt again).
            u1 = find_action(grid_actions, lambda a: a.startswith("ib:u:") and a.endswith(":1"))
            await h.click(grid_actions, u1)
            single = await h.wait_for_actions(thread, count=2)

            # A thread-reply edit with hostile text.
            await h.event(message_event(f"make it blue {HOSTILE}", thread_ts=thread))
            await h.wait_for_actions(thread, count=3)

            # The Edit… form, submitted with a hostile instruction.
            edit = find_action(single, lambda a: a.startswith("ib:edit:"))
            await h.click(single, edit, trigger_id=new_trigger_id())
            [view] = await slack.wait_for(lambda: slack.views)
            values = {"instruction": {"text": f"gold label {HOSTILE}"}}
            await h.dispatch(view_submission_body("ib_edit", values, view=view, fake=slack))
            await h.wait_for_actions(thread, count=4)

            # A failure: the provider is down for the next edit.
            fake_openai.fail_next(400, code="moderation_blocked")
            await h.event(message_event(f"make it worse {HOSTILE}", thread_ts=thread))
            await slack.wait_for(
                lambda: [m for m in h.thread(thread) if "❌" in m["text"] or "🚫" in m["text"]], timeout=10
            )

            # Listings and lookups that quote prompts or what was typed.
            count = len(slack.ephemerals)
            await h.command("/imagebot", "history")
            await h.command("/imagebot", f"show {HOSTILE}")
            await slack.wait_for(lambda: len(slack.ephemerals) >= count + 2)
            history_id = next(
                part for part in slack.ephemerals[count]["text"].split("`")[1::2] if part.isalnum()
            )
            await h.command("/imagebot", f"show {history_id}")
            await slack.wait_for(lambda: len(h.parents()) == 2)

            # A file whose name is hostile, refused with a message naming it.
            named = slack.add_user_file("<!channel>\u202e.pdf", b"%PDF-1.7", "application/pdf")
            await h.event(message_event("use this", thread_ts=thread, files=[named]))
            await slack.wait_for(lambda: any(".pdf" in e["text"] for e in slack.ephemerals))
            await h.adapter.wait_idle(10)

        texts = sent_texts(slack)
        assert {where for where, _ in texts} >= {
            "chat.postMessage",
            "chat.update",
            "chat.postEphemeral",
            "files.completeUploadExternal",
            "views.open",
        }
        for where, text in texts:
            assert not any(m in text for m in MARKUP), (where, text)
            assert not any(c in text for c in CONTROLS), (where, text)
        # The words are still there, as text: Slack shows &lt; as <.
        parent_text = slack.calls_to("chat.postMessage")[0].args["text"]
        assert "&lt;!everyone&gt;" in parent_text or "@everyone" in parent_text
        assert "&lt;!here&gt;" in parent_text
        assert "&amp;lt;!channel&amp;gt;" in parent_text
        # The bot's own formatting still works around it: the name in bold, ids in backticks.
        assert parent_text.startswith("🎨 /imagine by *&lt;!channel&gt; Eve")
        done = slack.message(CHANNEL, parent["ts"])["text"]
        assert "✅ Done `" in done
        assert "job `" in done
        assert any(action_ids(m) for m in h.thread(parent["ts"]))
        # Alt text is plain text (never parsed for mentions) but carries no control characters.
        for upload in slack.uploads:
            assert not any(c in (upload["alt_txt"] or "") for c in CONTROLS), upload["alt_txt"]
