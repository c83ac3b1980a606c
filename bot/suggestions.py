"""/describe's stored answer: the prompt suggestions for one image, which its buttons name.

A button id holds at most 100 characters, so the prompts are stored and the button carries the
record's id and a 1-based index (`ib:suggest:<id>:2`). Looked up only within the workspace the
click comes from, like every other id.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import SessionKey


@dataclass(frozen=True)
class Suggestions:
    id: str
    where: SessionKey  # where /describe was asked (its workspace scopes every look-up)
    requester: str  # UserRef.key
    source: str  # the described image's id, or the uploaded file's name
    prompts: tuple[str, ...]
    model: str  # the text model that wrote them ("offline" for the local describer)
    created_at: float
    label: str | None = None  # e.g. "offline preview"
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def prompt(self, number: int) -> str | None:
        """Suggestion `number` (1-based), or None when there is no such one."""
        return self.prompts[number - 1] if 1 <= number <= len(self.prompts) else None
