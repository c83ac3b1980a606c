"""The console's input (adapters/console/repl.py), one line at a time, read by the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import stat
from typing import TextIO


class LineReader:
    """Lines from standard input without a thread blocked in read(), so Ctrl-C at the prompt
    ends the console at once (a blocked reader thread would keep the process alive until Enter).

    Terminals and pipes are watched by the event loop; anything else (a regular file, StringIO)
    never blocks and is read directly."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._fd: int | None = None
        self._buffer = b""
        self._eof = False
        self._pollable = True
        with contextlib.suppress(AttributeError, OSError, io.UnsupportedOperation, ValueError):
            fd = stream.fileno()
            mode = os.fstat(fd).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                self._fd = fd

    async def readline(self) -> str:
        """The next line with its newline; "" at end of input."""
        if self._fd is None:
            return await asyncio.to_thread(self.stream.readline)
        while b"\n" not in self._buffer and not self._eof:
            chunk = await self._read(self._fd)
            self._eof = not chunk
            self._buffer += chunk
        line, newline, self._buffer = self._buffer.partition(b"\n")
        return (line + newline).decode("utf-8", "replace")

    async def _read(self, fd: int) -> bytes:
        if self._pollable:
            try:
                await self._readable(fd)
            except PermissionError:
                # epoll refuses some character devices (/dev/null, as a service manager gives):
                # they are read in a thread instead (/dev/null answers end of input at once).
                self._pollable = False
            else:
                return os.read(fd, 65536)
        return await asyncio.to_thread(os.read, fd, 65536)

    @staticmethod
    async def _readable(fd: int) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
