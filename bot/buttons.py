"""The one button codec: what a button's id says, and how it travels through a platform.

A button carries everything needed to act on a click in its id: a verb, the
image, set or job it acts on, and sometimes an argument (`ib:v:3f9a2c71:2`, `ib:aspect:…:16:9`).
The wire form `ib:<verb>:<target>[:<arg>]` is what every message already posted carries, so it
must keep decoding after any change here: a click on a message of any age is an ordinary request.
Adapters map their component events (a Discord custom_id, a Slack action_id, a console word) to
a `ButtonId` and never build or split the text themselves.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.errors import invalid

PREFIX = "ib"
MAX_LENGTH = 100  # Discord's custom_id limit, the smallest of the platforms (Slack: 255)


class Verb(enum.StrEnum):
    """What a button does. The values are on posted messages: never rename one."""

    U = "u"  # select image k of a set
    V = "v"  # variations of image k of a set
    REROLL = "reroll"  # the same request again (a set or an image)
    UPSCALE = "upscale"
    VARY_SUBTLE = "vary-subtle"
    VARY_STRONG = "vary-strong"
    EDIT = "edit"  # opens the Edit… form
    ZOOM = "zoom"  # arg: 1.5 or 2
    ASPECT = "aspect"  # arg: W:H
    NOBG = "nobg"  # remove the background
    UNDO = "undo"
    USE = "use"  # make this image current
    RETRY = "retry"  # a failed job again
    CANCEL = "cancel"  # a queued or running job
    DESCRIBE = "describe"  # an image → prompt suggestions (bot.describing)
    SUGGEST = "suggest"  # /imagine suggestion `arg` of a stored /describe answer (target: its id)

    @property
    def opens_form(self) -> bool:
        """A click answered with a form (the adapter opens it); the form's submit is the request."""
        return self in _FORM_VERBS


_FORM_VERBS = frozenset({Verb.EDIT})
_VERBS = {verb.value: verb for verb in Verb}

# The shape of an id, for platforms that route clicks by pattern (discord.py's DynamicItem, Bolt's
# action matcher): any verb, so an unknown one still reaches `decode` and gets a clear answer.
# The argument may itself hold colons (an aspect such as 16:9), so it is the rest of the id.
PATTERN = rf"{PREFIX}:(?P<verb>[a-z-]+):(?P<target>[^:]*)(?::(?P<arg>.*))?"


@dataclass(frozen=True)
class ButtonId:
    """What a click means: `verb` acting on `target` (an image, set or job id), with `arg`."""

    verb: Verb
    target: str
    arg: str | None = None

    def encode(self) -> str:
        """The wire form `ib:<verb>:<target>[:<arg>]`; ValueError if a platform could not carry it."""
        parts = [PREFIX, self.verb.value, self.target, *([self.arg] if self.arg is not None else [])]
        text = ":".join(parts)
        if len(text) > MAX_LENGTH:
            raise ValueError(f"button id {text[:40]!r}… is {len(text)} characters; at most {MAX_LENGTH} fit")
        if ":" in self.target:
            raise ValueError(f"a button target cannot hold ':' ({self.target!r})")
        return text

    @classmethod
    def decode(cls, text: str) -> ButtonId:
        """The id a platform handed back. A BotError (invalid input, in words for the person who
        clicked) when it is not one of ours or names a verb this version does not know."""
        parts = text.split(":")
        if len(parts) < 3 or parts[0] != PREFIX:
            raise invalid("That button is not one of mine.")
        verb = _VERBS.get(parts[1])
        if verb is None:
            raise invalid(f"Unknown button action {parts[1]!r}.")
        arg = ":".join(parts[3:]) if len(parts) > 3 else None
        return cls(verb, parts[2], arg)

    @staticmethod
    def looks_like(text: str) -> bool:
        """Whether `text` has the shape of one of our ids (the verb may still be unknown)."""
        return re.fullmatch(PATTERN, text) is not None


__all__ = ["MAX_LENGTH", "PATTERN", "ButtonId", "Verb"]
