"""Content-addressed image files under the data directory.

A blob is written to a temporary file and renamed into place before any row refers to it, so a
crash can leave an unreferenced file but never a row pointing at a missing one.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError("not a sha256 digest")
        return self.root / digest[:2] / digest

    async def put(self, data: bytes) -> str:
        """Store bytes and return their sha256 (hashing and writing happen off the event loop)."""
        return await asyncio.to_thread(self._put, data)

    def _put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    async def get(self, digest: str) -> bytes:
        return await asyncio.to_thread(self.path(digest).read_bytes)

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()
