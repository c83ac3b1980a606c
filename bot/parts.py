"""Checking a job made of several different requests (parts): how many, whether the member may
use each part's model and options, and what the whole may cost.

A comparison (bot/comparing.py) and a template pack both become parts; each part is one image
(n=1) with its own prompt and options, made as one job and shown as one labelled grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.domain import ImageOptions, JobPart, Operation, UserRef
from bot.errors import BotError, invalid
from bot.policy import Policy

PARTS_MIN, PARTS_MAX = 2, 4
LABEL_MAX = 60  # a grid cell's caption: a model name, a pack's shot name


def check_parts(policy: Policy, actor: UserRef, parts: Sequence[JobPart]) -> float:
    """Refuse parts the member may not ask for (each named); returns the estimated total cost,
    the sum of each part's own estimate, reserved against the budgets like any job's."""
    if not PARTS_MIN <= len(parts) <= PARTS_MAX:
        raise invalid(
            f"A set of different requests needs {PARTS_MIN} to {PARTS_MAX} of them, not {len(parts)}."
        )
    for part in parts:
        if part.options.n != 1:
            raise invalid(f"{part.label}: one image per part (n=1), not {part.options.n}.")
        if not part.label.strip() or len(part.label) > LABEL_MAX:
            raise invalid(f"A part's label must be 1 to {LABEL_MAX} characters.")
        policy.check_role(actor, part.options)
    return parts_estimate(policy, parts)


def parts_estimate(policy: Policy, parts: Sequence[JobPart]) -> float:
    """The estimated total: each part costs what a one-image /imagine of it would."""
    return sum(part_estimate(policy, part) for part in parts)


def part_estimate(policy: Policy, part: JobPart) -> float:
    return policy.estimate(part.options, Operation.IMAGINE, part.prompt, ())


def set_options(parts: Sequence[JobPart]) -> ImageOptions:
    """The job-level options of a parts job: the first part's, counting every part's image (so
    quotas, the queue and /usage see how many images it makes)."""
    if not parts:
        raise invalid(f"A set of different requests needs {PARTS_MIN} to {PARTS_MAX} of them, not 0.")
    return dataclasses.replace(parts[0].options, n=len(parts))


def models_of(parts: Sequence[JobPart]) -> list[str]:
    """The parts' models, each once, in order."""
    return list(dict.fromkeys(part.options.model for part in parts))


def describe(parts: Sequence[JobPart]) -> str:
    """What a parts job makes, for its queued line: "comparing 2 models (a, b)" or "3 prompts"."""
    models = models_of(parts)
    if len(models) > 1:
        return f"comparing {len(models)} models ({', '.join(models)})"
    return f"{len(parts)} prompts, {models[0]}"


def named(error: BotError, what: str) -> BotError:
    """The same refusal, saying which flag or part it is about."""
    return BotError(error.kind, f"{what}: {error.message}", category=error.category)
