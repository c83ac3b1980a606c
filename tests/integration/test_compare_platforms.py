"""`--compare` on every platform: one grid whose cells are labelled with their models, and U
buttons that pick a model's image (console, Discord through discord.py, Slack through slack-bolt)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.helpers import make_settings
from tests.integration.test_console_flow import block_after, run_script, saved_after
from tests.integration.test_discord_adapter import (
    button_ids,
    discord_bot,
    done_message,
    imagine,
    labels,
    settings_for,
)
from tests.integration.test_slack_adapter import (
    button_labels,
    find_action,
    imagine_and_wait,
    running_slack,
    slack_settings,
)

TWO = "gpt-image-2,gpt-image-2.5-flare"


def returned_by(fake: FakeOpenAI, model: str) -> bytes:
    (request,) = [r for r in fake.requests if r.fields["model"] == model]
    return request.returned[0]


async def test_console_compare_shows_labelled_grid_and_u2_picks_the_second_model(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    line = f"/imagine a lighthouse at dusk --compare {TWO}"
    code, output = await run_script(settings, f"{line}\nU2\n", tmp_path / "out")
    assert code == 0, output
    block = block_after(output, line)
    assert "comparing 2 models (gpt-image-2, gpt-image-2.5-flare)" in block
    assert "`1` gpt-image-2 · ~$" in block
    assert "`2` gpt-image-2.5-flare · ~$" in block
    grid, *members = saved_after(output, line)
    assert grid[0].name.endswith("-grid.jpg")
    assert len(members) == 2
    (picked,) = saved_after(output, "U2")
    assert picked[0].read_bytes() == members[1][0].read_bytes()
    assert "gpt-image-2.5-flare" in block_after(output, "U2")


async def test_discord_compare_posts_one_labelled_grid_whose_u_buttons_work(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        _, result = await imagine(fake_discord, f"a lighthouse at dusk --compare {TWO}")
        assert sorted(r.fields["model"] for r in fake_openai.requests) == sorted(TWO.split(","))
        assert labels(result) == ["U1", "U2", "V1", "V2", "🔄"]
        assert len(result["attachments"]) == 1  # one grid for the whole comparison
        grid = Image.open(io.BytesIO(fake_discord.file_bytes(result["attachments"][0])))
        assert grid.size[0] > 1024  # two cells side by side
        content = result["content"]
        assert "gpt-image-2 · " in content
        assert "gpt-image-2.5-flare · " in content

        u2 = next(c for c in button_ids(result) if c.startswith("ib:u:") and c.endswith(":2"))
        user = fake_discord.default_user
        await fake_discord.dispatch(
            "INTERACTION_CREATE", fake_discord.component_interaction(result["id"], u2, user)
        )
        selected = await fake_discord.wait_for(lambda f: done_message(f, result["id"], "Image 2"))
        assert fake_discord.file_bytes(selected["attachments"][0]) == returned_by(
            fake_openai, "gpt-image-2.5-flare"
        )
        assert "gpt-image-2.5-flare" in selected["content"]


async def test_slack_compare_posts_one_labelled_grid_whose_u_buttons_work(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        thread, actions = await imagine_and_wait(h, f"a lighthouse at dusk --compare {TWO}")
        assert sorted(r.fields["model"] for r in fake_openai.requests) == sorted(TWO.split(","))
        assert button_labels(actions) == ["U1", "U2", "V1", "V2", "🔄"]
        (files,) = await h.wait_for_files(thread)
        (grid,) = files["files"]
        assert grid["name"].endswith("-grid.jpg")
        assert "gpt-image-2 · " in files["text"]
        assert "gpt-image-2.5-flare · " in files["text"]

        u2 = find_action(actions, lambda a: a.startswith("ib:u:") and a.endswith(":2"))
        assert (await h.click(actions, u2)).status == 200
        picked = await h.wait_for_files(thread, count=2)
        assert h.uploaded(picked[1]) == [returned_by(fake_openai, "gpt-image-2.5-flare")]
