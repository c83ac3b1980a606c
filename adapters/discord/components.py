"""Buttons and forms that survive restarts.

Every button is a `DynamicItem` whose custom_id is the core's own button id (bot.buttons), so a
click on a message of any age, after any restart, becomes an ordinary core request. A click
reaches the adapter that owns the client it came through (`interaction.client.adapter`), so two
adapters in one process never answer each other's clicks. Forms
(modals) are answered from `on_interaction` by their custom_id rather than from discord.py's
in-memory modal store, so they work after a restart too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

import discord

from bot.answers import Button
from bot.buttons import PATTERN

BUTTON_TEMPLATE = PATTERN
MODAL_PREFIX = "ib-form:"

_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}


class ClickHandler(Protocol):
    """What the client's adapter offers for a click (the adapter owns the core and the replies)."""

    async def on_click(self, interaction: discord.Interaction, custom_id: str) -> None: ...


class ImagebotButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE):
    def __init__(
        self, custom_id: str, label: str = "…", style: str = "secondary", row: int | None = None
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=_STYLES.get(style, discord.ButtonStyle.secondary),
                custom_id=custom_id,
                row=row,
            )
        )
        self.custom_id_text = custom_id

    @classmethod
    def from_button(cls, button: Button, row: int | None = None) -> ImagebotButton:
        return cls(button.custom_id, button.label, button.style, row)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ImagebotButton:
        # Only buttons carry the template; any other item is rebuilt from the matched id alone.
        if isinstance(item, discord.ui.Button):
            return cls(item.custom_id or match.group(0), item.label or "…")
        return cls(match.group(0))

    async def callback(self, interaction: discord.Interaction) -> None:
        adapter: ClickHandler | None = getattr(interaction.client, "adapter", None)
        if adapter is not None:
            await adapter.on_click(interaction, self.custom_id_text)


def edit_form(custom_id: str, title: str = "Edit image") -> discord.ui.Modal:
    """The Edit… form: one instruction field. Its custom_id says what to edit."""
    modal = discord.ui.Modal(title=title[:45], custom_id=custom_id, timeout=None)
    modal.add_item(
        discord.ui.TextInput(
            label="What should change?",
            custom_id="instruction",
            style=discord.TextStyle.paragraph,
            placeholder="e.g. make the sky stormy, keep everything else the same",
            max_length=4000,
        )
    )
    return modal


def submitted_values(data: Mapping[str, Any]) -> dict[str, str]:
    """custom_id -> value of the text inputs in a modal submit payload (rows or labels)."""
    values: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "custom_id" in node and "value" in node:
                values[node["custom_id"]] = str(node["value"])
            for child in node.get("components", []) or []:
                walk(child)
            if "component" in node:
                walk(node["component"])
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(data.get("components", []))
    return values
