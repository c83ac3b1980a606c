"""The storage facade the core receives: database, blob files and the repositories on them."""

from __future__ import annotations

from pathlib import Path

from storage.blobs import BlobStore
from storage.db import Database
from storage.images import ImageRepo
from storage.intake import IntakeRepo
from storage.jobs import JobRepo
from storage.preferences import PreferenceRepo
from storage.styles import StyleRepo
from storage.suggestions import SuggestionRepo
from storage.templates import TemplateRepo


class Store:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs
        self.images = ImageRepo(db)
        self.jobs = JobRepo(db)
        self.preferences = PreferenceRepo(db)
        self.intake = IntakeRepo(db)
        self.styles = StyleRepo(db)
        self.templates = TemplateRepo(db)
        self.suggestions = SuggestionRepo(db)

    @classmethod
    async def open(cls, database_path: Path | str, blobs_dir: Path) -> Store:
        return cls(await Database.open(database_path), BlobStore(blobs_dir))

    async def close(self) -> None:
        await self.db.close()
