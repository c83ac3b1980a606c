"""A setting that cannot even be decoded gets the same tidy list from every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.helpers import imagebot_finishes

PLATFORM_ENV = {
    "run": {},
    "console": {},
    "discord": {"DISCORD_TOKEN": "token", "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10"},
    "slack": {
        "SLACK_BOT_TOKEN": "xoxb-1-2-3",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_API_URL": "http://127.0.0.1:9/",
    },
}


@pytest.mark.parametrize("command", sorted(PLATFORM_ENV))
async def test_prices_that_are_not_json_are_named_in_one_line(tmp_path: Path, command: str) -> None:
    result = await imagebot_finishes(
        tmp_path, command, input="", IMAGEBOT_PRICES="garbage", **PLATFORM_ENV[command]
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "IMAGEBOT_PRICES: not valid JSON" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 4, result.stderr  # the tidy list, not a trace


async def test_doctor_lists_undecodable_and_misshapen_prices(tmp_path: Path) -> None:
    garbage = await imagebot_finishes(tmp_path, "doctor", IMAGEBOT_PRICES="garbage")
    assert garbage.returncode == 1
    assert "✗ IMAGEBOT_PRICES: not valid JSON" in garbage.stdout
    assert "Traceback" not in garbage.stderr

    misshapen = await imagebot_finishes(tmp_path, "doctor", IMAGEBOT_PRICES='{"default": 3}')
    assert misshapen.returncode == 1
    assert "IMAGEBOT_PRICES.DEFAULT" in misshapen.stdout

    good = await imagebot_finishes(
        tmp_path,
        "doctor",
        IMAGEBOT_PRICES='{"gpt-image-2": {"text_input": 1, "image_input": 2, "image_output": 3}}',
    )
    assert good.returncode == 0, good.stdout
