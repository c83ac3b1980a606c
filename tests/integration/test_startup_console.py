"""Ctrl-C at the console's prompt, typed at a real terminal (a pseudo-terminal here): the console
ends at once and cleanly, and `make run` does not report an interrupted recipe."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.integration.helpers import ROOT, process_env

BIN = Path(sys.executable).parent


def at_a_terminal(command: list[str], tmp_path: Path, cwd: Path) -> tuple[int, bytes, float]:
    """Run `command` as the foreground job of a new terminal, wait for the prompt, type Ctrl-C;
    return the exit status, everything shown on the terminal, and how long the exit took."""
    controller, terminal = pty.openpty()

    def own_the_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        # As a shell at a terminal starts it: a test run started in the background (`cmd &` in a
        # script) ignores SIGINT, and the child would inherit that and never see the Ctrl-C.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=process_env(tmp_path, {}),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        preexec_fn=own_the_terminal,
    )
    os.close(terminal)
    shown = b""
    try:
        shown += read_until(controller, b"imagebot> ", timeout=30)
        typed = time.monotonic()
        os.write(controller, b"\x03")  # Ctrl-C: the terminal sends SIGINT to its foreground job
        shown += read_until(controller, None, timeout=10)
        status = process.wait(timeout=10)
        return status, shown, time.monotonic() - typed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)


def read_until(fd: int, marker: bytes | None, timeout: float) -> bytes:
    """What the terminal shows until `marker` appears (None: until every process on it ended)."""
    text = b""
    deadline = time.monotonic() + timeout
    while marker is None or marker not in text:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise AssertionError(f"still waiting for {marker!r} after {timeout} s; shown: {text!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the terminal has no process left
            chunk = b""
        if not chunk:
            if marker is None:
                break
            raise AssertionError(f"the terminal closed before {marker!r}; shown: {text!r}")
        text += chunk
    return text


@pytest.mark.skipif(not (BIN / "imagebot").exists(), reason="needs the installed imagebot script")
def test_ctrl_c_at_the_prompt_ends_the_console_at_once(tmp_path: Path) -> None:
    status, shown, took = at_a_terminal([str(BIN / "imagebot"), "console"], tmp_path, tmp_path)
    assert status == 0, shown
    assert b"Traceback" not in shown
    assert b"KeyboardInterrupt" not in shown
    assert took < 5


@pytest.mark.skipif(
    shutil.which("make") is None or not (BIN / "imagebot").exists(), reason="needs make and imagebot"
)
def test_ctrl_c_in_make_run_is_quiet(tmp_path: Path) -> None:
    # -o: use the installed environment as it is (never reinstall from a test).
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", f"BIN={BIN}", "run"]
    status, shown, took = at_a_terminal(command, tmp_path, ROOT)
    assert status == 0, shown
    assert b"Interrupt" not in shown, shown
    assert b"Traceback" not in shown, shown
    assert took < 5
