"""Default options in layers: a person's own over the channel's over the workspace's.

`/settings` shows and changes them; they apply to new /imagine requests (explicit options and
--flags always win).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from bot.domain import OptionOverrides, SessionKey, UserRef

Scope = Literal["me", "channel", "workspace"]
SCOPES: tuple[Scope, ...] = ("me", "channel", "workspace")
_STORED_SCOPE = {"me": "user", "channel": "channel", "workspace": "workspace"}


def scope_key(scope: Scope, actor: UserRef, where: SessionKey) -> tuple[str, str]:
    """(stored scope, scope id) for a layer."""
    if scope == "me":
        return _STORED_SCOPE[scope], actor.key
    if scope == "channel":
        return _STORED_SCOPE[scope], f"{where.platform}:{where.workspace}:{where.channel}"
    return _STORED_SCOPE[scope], f"{where.platform}:{where.workspace}"


def layered(*layers: OptionOverrides) -> OptionOverrides:
    """The first layer that sets a field wins (most specific first)."""
    result = OptionOverrides()
    for layer in reversed(layers):
        result = layer.merged_over(result)
    return result


def describe(values: OptionOverrides) -> str:
    given = {k: v for k, v in dataclasses.asdict(values).items() if v is not None}
    if not given:
        return "nothing set"
    flag = {"aspect": "ar", "output_format": "format"}
    return " ".join(f"--{flag.get(k, k)} {v}" for k, v in given.items())
