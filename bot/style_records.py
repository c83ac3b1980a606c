"""A house style as stored: the record the style use cases (bot/styles.py) and storage share."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import SessionKey, UserRef

WORKSPACE = ""  # the owner of a workspace's styles (a person's are owned by their UserRef.key)
MAX_STYLE_IMAGES = 4
STYLE_TEXT_MAX_CHARS = 500  # a look in words, not a second prompt


@dataclass(frozen=True)
class StyleScope:
    """Where a style lives: one workspace of one platform, and whose it is there."""

    platform: str
    workspace: str
    owner: str  # UserRef.key, or WORKSPACE

    @classmethod
    def of(cls, where: SessionKey, actor: UserRef | None) -> StyleScope:
        """The person's own styles in this workspace (`actor`), or the workspace's (None)."""
        return cls(where.platform, where.workspace, actor.key if actor is not None else WORKSPACE)

    @property
    def is_workspace(self) -> bool:
        return self.owner == WORKSPACE


@dataclass(frozen=True)
class Style:
    id: int
    scope: StyleScope
    name: str  # as typed when saved or renamed; looked up whatever its case
    text: str  # appended to prompts ("" for a style of images only)
    image_ids: tuple[str, ...]  # stored images sent as extra inputs, in order
    created_by: str  # UserRef.key
    created_at: float
