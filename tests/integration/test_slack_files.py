"""Files shared in a Slack session thread: checked from their metadata before any download, and
downloaded whole, but never past the size limit, whatever the metadata or headers said.

The real FileFetcher (aiohttp) downloads from FakeSlack's file hosting; the last test goes through
the whole adapter (a signed thread-reply event).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.files import FileFetcher
from bot.errors import BotError
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, message_event
from tests.helpers import png
from tests.integration.test_slack_adapter import ALICE, running_slack, slack_settings

PNG_HEAD = b"\x89PNG\r\n\x1a\n"
LIMIT = 256 * 1024


def fetcher(slack: FakeSlack, max_bytes: int = LIMIT) -> FileFetcher:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    return FileFetcher(client, api_url=slack.api_url, max_bytes=max_bytes)


async def test_a_shared_image_bigger_than_one_network_read_arrives_whole(slack: FakeSlack) -> None:
    data = PNG_HEAD + os.urandom(3 * 1024 * 1024)
    shared = slack.add_user_file("photo.png", data)
    [attachment] = await fetcher(slack, max_bytes=50 * 1024 * 1024).fetch_all([shared])
    assert len(attachment.data) == len(data)
    assert attachment.data == data


async def test_exactly_the_limit_is_accepted(slack: FakeSlack) -> None:
    data = PNG_HEAD + os.urandom(LIMIT - len(PNG_HEAD))
    shared = slack.add_user_file("edge.png", data, stream_bytes=LIMIT)  # no Content-Length either
    [attachment] = await fetcher(slack).fetch_all([shared])
    assert attachment.data == data


async def test_a_body_bigger_than_declared_is_cut_off_at_the_limit(slack: FakeSlack) -> None:
    # The metadata says 1 KB; the host streams 64 MB with no Content-Length.
    total = 64 * 1024 * 1024
    shared = slack.add_user_file("liar.png", PNG_HEAD + bytes(1000), size=1008, stream_bytes=total)
    assert shared["size"] == 1008
    with pytest.raises(BotError, match=r"liar\.png is over 256 KB"):
        await fetcher(slack).fetch_all([shared])
    [stream] = await slack.wait_for(lambda: [s for s in slack.streamed if s["done"]])
    # The client hung up: the host could not send it all (socket buffers hold a few MB at most).
    assert stream["sent"] < total // 2, stream


async def test_a_content_length_over_the_limit_is_refused_unread(slack: FakeSlack) -> None:
    shared = slack.add_user_file("big.png", PNG_HEAD + bytes(4 * LIMIT), size=1008)
    with pytest.raises(BotError, match=r"big\.png is over 256 KB"):
        await fetcher(slack).fetch_all([shared])
    assert len(slack.downloads) == 1  # asked, saw the length, stopped


async def test_files_that_cannot_be_used_are_refused_before_any_download(slack: FakeSlack) -> None:
    photo = slack.add_user_file("photo.png", PNG_HEAD + bytes(32))
    gif = slack.add_user_file("anim.gif", b"GIF89a" + bytes(32), "image/gif")
    heic = slack.add_user_file("IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic", "image/heic")
    huge = slack.add_user_file("huge.png", PNG_HEAD + bytes(32), size=60 * 1024 * 1024)
    as_text = dict(huge, size=str(60 * 1024 * 1024))  # a size given as a string counts too
    cases = [
        (gif, r"anim\.gif is an image I can't use \(GIF\)"),
        (heic, r"IMG_0001\.HEIC is an image I can't use \(HEIC\)"),
        (huge, r"huge\.png is 60 MB; images must be under 50 MB"),
        (as_text, r"huge\.png is 60 MB"),
    ]
    for shared, message in cases:
        with pytest.raises(BotError, match=message):
            await fetcher(slack, max_bytes=50 * 1024 * 1024).fetch_all([photo, shared])
    assert slack.downloads == []
    assert slack.streamed == []


async def test_a_thread_reply_with_an_oversized_or_unusable_file_gets_a_message_naming_it(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    settings = slack_settings(data_dir, slack, fake_openai)
    async with running_slack(settings, slack) as h:
        await h.command("/imagine", "a lighthouse --n 1")
        [parent] = await slack.wait_for(lambda: h.parents())
        thread = parent["ts"]
        await h.wait_for_actions(thread)
        # A photo that says 1 KB but is 60 MB on the wire (no Content-Length).
        liar = slack.add_user_file(
            "pier.png", png(64, 64, color=(20, 90, 200)), size=1024, stream_bytes=60 * 1024 * 1024
        )
        await h.event(message_event("add this pier", thread_ts=thread, files=[liar]))
        [note] = await slack.wait_for(lambda: slack.ephemerals)
        assert "pier.png is over 50 MB" in note["text"]
        assert note["user"] == ALICE
        assert note["thread_ts"] == thread
        clip = slack.add_user_file("clip.mov", b"\x00\x00\x00\x14ftypqt  ", "video/quicktime")
        await h.event(message_event("use the clip", thread_ts=thread, files=[clip]))
        await slack.wait_for(lambda: len(slack.ephemerals) == 2)
        assert "clip.mov is not an image" in slack.ephemerals[1]["text"]
        await h.adapter.wait_idle(10)
        assert len(fake_openai.requests) == 1  # neither reached the provider
        assert [d["file_id"] for d in slack.downloads] == [liar["id"]]  # the clip was never fetched
