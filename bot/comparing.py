"""`--compare MODEL,MODEL`: the same prompt once per model, as parts of one set (bot/parts.py).

Each model's options are chosen as a one-image /imagine with `--model` that model would get (the
person's flags over the saved defaults), so a model that cannot take an option, is unknown,
retired or not enabled here is refused by name before anything is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.choosing import OptionChooser
from bot.domain import JobPart, OptionOverrides, SessionKey, UserRef
from bot.errors import BotError, invalid
from bot.parts import named


async def compare_parts(
    chooser: OptionChooser,
    actor: UserRef,
    where: SessionKey,
    prompt: str,
    asked: OptionOverrides,
    models: Sequence[str],
    *,
    references: int = 0,
) -> tuple[JobPart, ...]:
    """One part per model, labelled with the model's name; or a specific refusal."""
    if asked.n is not None:
        raise invalid(f"--compare makes one image per model ({len(models)} in all); leave out --n {asked.n}.")
    if asked.model is not None:
        raise invalid(f"--compare names the models to use; leave out --model {asked.model}.")
    if references:
        raise invalid("--compare works from a prompt alone; send the reference images without it.")
    parts = []
    for model in models:
        try:
            chosen = await chooser.for_new_request(actor, where, dataclasses.replace(asked, model=model, n=1))
        except BotError as error:
            raise named(error, "--compare") from None
        parts.append(JobPart(prompt, chosen, chosen.model))
    return tuple(parts)
