"""Default options in layers: a person's own over the channel's over the workspace's.

`/settings` shows and changes them; they apply to new /imagine requests (explicit options and
--flags always win).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Literal

from bot.config import Settings
from bot.directives import split_directives
from bot.domain import OptionOverrides, SessionKey, UserRef
from bot.errors import BotError, ErrorKind, invalid
from bot.options import split_flags
from bot.ports import PreferenceRepository

Scope = Literal["me", "channel", "workspace"]
QualitiesOf = Callable[[str], Collection[str] | None]  # a model's qualities; None = unknown model
# (person, place, layer, name) -> the style name the layer may hold, or a refusal (bot.styles)
CheckStyle = Callable[[UserRef, SessionKey, str, str], Awaitable[str]]
SCOPES: tuple[Scope, ...] = ("me", "channel", "workspace")
_STORED_SCOPE = {"me": "user", "channel": "channel", "workspace": "workspace"}


def scope_key(scope: Scope, actor: UserRef, where: SessionKey) -> tuple[str, str]:
    """(stored scope, scope id) for a layer."""
    if scope == "me":
        return _STORED_SCOPE[scope], actor.key
    if scope == "channel":
        return _STORED_SCOPE[scope], f"{where.platform}:{where.workspace}:{where.channel}"
    return _STORED_SCOPE[scope], f"{where.platform}:{where.workspace}"


# --ar and --size are one setting: whichever layer sets either of them decides the size.
SIZE_GROUP = ("aspect", "size")


def layered(*layers: OptionOverrides) -> OptionOverrides:
    """Most specific layer first. Field by field, the first layer that sets it wins, except the
    size group: the first layer that sets --ar or --size gives both (so a channel's --ar never
    collides with a person's --size)."""
    values: dict[str, object] = {}
    for name in (f.name for f in dataclasses.fields(OptionOverrides)):
        if name not in SIZE_GROUP:
            values[name] = next(
                (getattr(layer, name) for layer in layers if getattr(layer, name) is not None), None
            )
    sizing = next(
        (layer for layer in layers if layer.aspect is not None or layer.size is not None), OptionOverrides()
    )
    return OptionOverrides(aspect=sizing.aspect, size=sizing.size, **values)  # type: ignore[arg-type]  # each value came from the same field


def updated(layer: OptionOverrides, changes: OptionOverrides) -> OptionOverrides:
    """A stored layer after `/settings … --flags`: changed fields replace, and setting --ar or
    --size replaces the layer's whole size group."""
    if changes.aspect is not None or changes.size is not None:
        layer = dataclasses.replace(layer, aspect=None, size=None)
    return changes.merged_over(layer)


@dataclass(frozen=True)
class Combined:
    """A request's options over the saved defaults, and the format default they imply."""

    overrides: OptionOverrides
    default_format: str | None  # a saved --format: a default, so --background transparent may switch it


def combine(request: OptionOverrides, defaults: OptionOverrides, qualities_of: QualitiesOf) -> Combined:
    """What a request asks for, with the saved defaults filling the gaps.

    A flag typed in the request wins over every saved default, including defaults that would
    clash with it: a saved --format jpeg does not block --background transparent, a saved
    transparent background does not block --format jpeg, a saved quality the requested model
    lacks is dropped, and a saved --compression does not block --format png.
    """
    merged = layered(request, defaults)
    default_format = None
    if request.output_format is None and defaults.output_format is not None:
        merged = dataclasses.replace(merged, output_format=None)
        default_format = defaults.output_format
    jpeg_asked = request.output_format is not None and request.output_format.lower() in ("jpeg", "jpg")
    if jpeg_asked and request.background is None and merged.background == "transparent":
        merged = dataclasses.replace(merged, background=None)
    if request.quality is None and merged.quality is not None and merged.model is not None:
        supported = qualities_of(merged.model)
        if supported is not None and merged.quality not in supported:
            merged = dataclasses.replace(merged, quality=None)
    if request.compression is None and merged.compression is not None:
        final_format = (merged.output_format or default_format or "png").lower()
        if final_format == "png":
            merged = dataclasses.replace(merged, compression=None)
    return Combined(merged, default_format)


def describe(values: OptionOverrides) -> str:
    given = {k: v for k, v in dataclasses.asdict(values).items() if v is not None}
    if not given:
        return "nothing set"
    flag = {"aspect": "ar", "output_format": "format"}
    return " ".join(f"--{flag.get(k, k)} {v}" for k, v in given.items())


_SCOPE_NAMES = {"me": "Your", "channel": "This channel's", "workspace": "This workspace's"}


class SettingsDesk:
    """/settings: show the defaults in force here, layer by layer, and change one layer."""

    def __init__(
        self,
        settings: Settings,
        preferences: PreferenceRepository,
        check: Callable[[OptionOverrides], object],
        check_style: CheckStyle | None = None,
    ) -> None:
        self.settings = settings
        self.preferences = preferences
        self.check = check  # resolves a layer's options, raising on what every /imagine would fail on
        self.check_style = check_style

    async def view(self, actor: UserRef, where: SessionKey) -> str:
        """/settings with no changes: the defaults in force here, layer by layer."""
        lines = ["Defaults for new /imagine requests (a --flag or option always wins):"]
        for scope in SCOPES:
            values = await self.preferences.get(*scope_key(scope, actor, where))
            lines.append(f"• {_SCOPE_NAMES[scope]} defaults: {describe(values)}")
        s = self.settings
        lines.append(
            f"• bot: --model {s.imagebot_model} --n {s.imagebot_default_n} --quality {s.imagebot_default_quality}"
        )
        lines.append(
            "Change with `/settings me --n 2 --ar 16:9` (admins: `channel` or `workspace`); `reset` clears a layer;"
            " `--style NAME` sets a default house style (`--style none`: none)."
        )
        return "\n".join(lines)

    async def update(self, actor: UserRef, where: SessionKey, scope: str, changes: str) -> str:
        """/settings <me|channel|workspace> <--flags | reset>: change one layer of defaults."""
        layer = _scope(scope)
        if layer != "me" and not actor.is_admin:
            raise BotError(ErrorKind.FORBIDDEN, f"Only admins can change the {layer}'s defaults.")
        key = scope_key(layer, actor, where)
        if changes.strip().lower() == "reset":
            await self.preferences.put(*key, OptionOverrides(), actor.key)
            return f"{_SCOPE_NAMES[layer]} defaults cleared."
        rest, asked = split_directives(changes)  # a default --style NAME is a library flag
        if asked.template or asked.texts or asked.compare:
            raise invalid("Settings take options like --n 2, --ar 16:9 or --style NAME.")
        rest, values = split_flags(rest)
        if asked.style is not None:
            if self.check_style is None:
                raise invalid("--style is not available in this version")
            style = await self.check_style(actor, where, layer, asked.style)
            values = dataclasses.replace(values, style=style)
        if rest.strip():
            raise invalid(
                f"Settings are options like --n 2 or --ar 16:9; I did not understand {rest.strip()!r}."
            )
        merged = updated(await self.preferences.get(*key), values)
        self.check(merged)  # refuse what would make every later /imagine fail
        await self.preferences.put(*key, merged, actor.key)
        return f"{_SCOPE_NAMES[layer]} defaults: {describe(merged)}"


def _scope(name: str) -> Scope:
    for scope in SCOPES:
        if scope == name:
            return scope
    raise invalid(f"Settings apply to me, channel or workspace, not {name!r}.")
