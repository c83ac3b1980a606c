"""The installed command line, as a new user runs it: `imagebot run`/`console` and `doctor`."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image


def clean_env(**env: str) -> dict[str, str]:
    """This environment without any imagebot, OpenAI or platform setting, plus `env`."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "IMAGEBOT_", "DISCORD_", "SLACK_"))
    }
    return clean | env | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def run_cli(args: list[str], cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=clean_env(**env),
        timeout=120,
        check=False,
    )


def run_cli_together(*calls: tuple[list[str], dict[str, Any]]) -> list[subprocess.CompletedProcess[str]]:
    """Independent `run_cli(args, cwd, **kwargs)` calls at once, each a separate process."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: run_cli(call[0], **call[1]), calls))


def test_run_with_nothing_configured_is_the_offline_console(tmp_path: Path) -> None:
    # The README's first conversation, but for its upscale (a 2880x2880 render, about a second of
    # CPU): test_console_flow.py holds the whole conversation, upscale and zoom included.
    script = "/imagine a red fox in snow --n 4\nU2\nmake it night\nundo\n"
    result = run_cli(["run"], tmp_path, script)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OPENAI_API_KEY" in result.stdout
    assert "DISCORD_TOKEN" in result.stdout  # how to configure
    assert "make doctor (or .venv/bin/imagebot doctor)" in result.stdout  # `imagebot` is not on PATH
    out = tmp_path / "imagebot-out"
    grids = list(out.glob("*-grid.jpg"))
    assert len(grids) == 1
    sizes = sorted(Image.open(p).size for p in out.glob("imagebot-*.png"))  # partial previews: partials/
    assert sizes == [(1024, 1024)] * 5  # 4 set images + the night edit
    assert (tmp_path / "data" / "imagebot.sqlite3").is_file()


def test_console_exits_non_zero_when_a_line_fails(tmp_path: Path) -> None:
    result = run_cli(
        ["console", "--out", "pics"], tmp_path, "/imagine a cat --n 1\n/imagine --size 10x10 dog\n"
    )
    assert result.returncode == 1
    assert "multiples of 16" in result.stdout
    assert len(list((tmp_path / "pics").glob("imagebot-*.png"))) >= 1


def test_the_console_with_stdin_from_dev_null_ends_cleanly(tmp_path: Path) -> None:
    # As under a service manager or `make run < /dev/null`: epoll cannot watch /dev/null.
    with open(os.devnull) as nothing:
        result = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "run"],
            cwd=tmp_path,
            stdin=nothing,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "imagebot console" in result.stdout


def test_doctor_reports_ok_and_masks_secrets(tmp_path: Path) -> None:
    result = run_cli(["doctor"], tmp_path, OPENAI_API_KEY="sk-proj-verysecretvalue1234")
    assert result.returncode == 0, result.stdout
    assert "provider:       openai" in result.stdout
    assert "verysecret" not in result.stdout
    assert "1234" in result.stdout


def test_doctor_names_invalid_and_missing_settings(tmp_path: Path) -> None:
    bad_model, slack, not_a_number = run_cli_together(
        (["doctor"], {"cwd": tmp_path, "IMAGEBOT_MODEL": "gpt-image-1"}),
        (["doctor"], {"cwd": tmp_path, "SLACK_BOT_TOKEN": "xoxb-1-2-3"}),
        (["doctor"], {"cwd": tmp_path, "IMAGEBOT_DEFAULT_N": "twelve"}),
    )
    assert bad_model.returncode == 1
    assert "IMAGEBOT_MODEL" in bad_model.stdout
    assert "shut down" in bad_model.stdout

    assert slack.returncode == 1
    assert "SLACK_APP_TOKEN is not set: Socket Mode needs" in slack.stdout

    assert not_a_number.returncode == 1
    assert "IMAGEBOT_DEFAULT_N" in not_a_number.stdout


def test_settings_come_from_a_dotenv_file_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("IMAGEBOT_MODEL=gpt-image-2.5-flare\nIMAGEBOT_DEFAULT_N=2\n")
    result = run_cli(["doctor"], tmp_path)
    assert "gpt-image-2.5-flare (default n=2)" in result.stdout


def test_invalid_configuration_stops_run_with_a_clear_message(tmp_path: Path) -> None:
    result = run_cli(["run"], tmp_path, IMAGEBOT_PROVIDER="openai")
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr


def test_env_example_is_a_valid_configuration(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    (tmp_path / ".env").write_text(example.read_text())
    result = run_cli(["doctor"], tmp_path)
    assert result.returncode == 0, result.stdout
    assert "provider:       offline" in result.stdout


def test_env_example_lists_every_setting() -> None:
    import re

    from bot.config import Settings

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert listed == {name.upper() for name in Settings.model_fields}
    # ...each with a comment line above it
    lines = example.splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            assert lines[index - 1].startswith("#"), line


def test_platform_commands_name_what_is_missing(tmp_path: Path) -> None:
    discord, slack = run_cli_together((["discord"], {"cwd": tmp_path}), (["slack"], {"cwd": tmp_path}))
    assert discord.returncode == 2
    assert "DISCORD_TOKEN" in discord.stderr
    assert slack.returncode == 2
    assert "SLACK_BOT_TOKEN" in slack.stderr
    assert not (tmp_path / "data").exists()  # nothing was set up for a command that cannot run
    # A bot token alone is not enough: Socket Mode needs the app token (or HTTP mode a secret).
    bot_token_only = {"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_API_URL": "http://127.0.0.1:9/api/"}
    # Each in a folder of its own: `run` holds its data directory while it finds out, and a
    # second imagebot on the same one would be (rightly) refused instead.
    (tmp_path / "run").mkdir()
    (tmp_path / "http").mkdir()
    half, http = run_cli_together(
        (["run"], {"cwd": tmp_path / "run", **bot_token_only}),
        (["slack", "--http"], {"cwd": tmp_path / "http", **bot_token_only}),
    )
    assert half.returncode == 2
    assert "SLACK_APP_TOKEN" in half.stderr
    assert http.returncode == 2
    assert "SLACK_SIGNING_SECRET" in http.stderr
    for refused in (half, http):
        assert "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    # Refused before anything was set up, like a missing token.
    assert not (tmp_path / "run" / "data").exists()
    assert not (tmp_path / "http" / "data").exists()
