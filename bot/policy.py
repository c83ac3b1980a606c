"""Who may do what, and how much: channels, member limits, button rights, quotas and budgets.

Every check raises a `BotError` that says exactly what was refused and why; none stores anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from bot import sizes
from bot.config import Settings
from bot.costs import budget_refusal, estimate_job_cost
from bot.domain import ImageOptions, Operation, SessionKey, SpendLimit, SpendRefusal, UserRef
from bot.errors import BotError, ErrorKind
from bot.model_catalog import model_info
from bot.ports import JobRepository
from bot.providers.base import Provider


class Policy:
    def __init__(
        self, settings: Settings, jobs: JobRepository, provider: Provider, clock: Callable[[], float]
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.provider = provider
        self.clock = clock

    def check_channel(self, where: SessionKey) -> None:
        allowed = self.settings.imagebot_channels
        if allowed and where.platform != "console" and where.channel not in allowed:
            raise BotError(
                ErrorKind.FORBIDDEN,
                "imagebot is not enabled in this channel; an admin can add it to IMAGEBOT_CHANNELS.",
            )

    def check_role(self, actor: UserRef, chosen: ImageOptions) -> None:
        """Models, qualities and sizes reserved for admins (IMAGEBOT_MEMBER_*)."""
        if actor.is_admin:
            return
        s = self.settings
        if s.imagebot_member_models and chosen.model not in s.imagebot_member_models:
            raise BotError(
                ErrorKind.FORBIDDEN,
                f"{chosen.model} is for admins here; you may use {', '.join(s.imagebot_member_models)}.",
            )
        if s.imagebot_member_qualities and chosen.quality not in s.imagebot_member_qualities:
            raise BotError(
                ErrorKind.FORBIDDEN,
                f"--quality {chosen.quality} is for admins here; you may use"
                f" {', '.join(s.imagebot_member_qualities)}.",
            )
        size = chosen.dimensions()
        if s.imagebot_member_max_pixels and size and size[0] * size[1] > s.imagebot_member_max_pixels:
            raise BotError(
                ErrorKind.FORBIDDEN,
                f"{chosen.size} is larger than members may make here"
                f" (at most {s.imagebot_member_max_pixels:,} pixels); ask an admin.",
            )

    def check_may_press(self, actor: UserRef, requester: str) -> None:
        """The buttons setting: anyone may use them (default), or only who asked and admins."""
        if self.settings.imagebot_buttons == "requester" and actor.key != requester and not actor.is_admin:
            raise BotError(
                ErrorKind.FORBIDDEN,
                f"Only {requester.split(':', 1)[-1]} (who made this) or an admin can use these buttons here.",
            )

    async def check_quota(self, actor: UserRef, count: int) -> None:
        quota = self.settings.imagebot_daily_image_quota
        if quota:
            used = (await self.jobs.usage_of_requester(actor.key, self.day_start())).images
            if used + count > quota:
                raise BotError(
                    ErrorKind.QUOTA,
                    f"Daily quota reached: you have made {used} of {quota} images today"
                    f" and this would make {count} more. It resets at midnight UTC.",
                )

    def day_start(self) -> float:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def month_start(self) -> float:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()

    def spend_limits(self, actor: UserRef, where: SessionKey) -> list[SpendLimit]:
        """The monthly budgets a new job of `actor` in `where` must fit in (0 = no budget)."""
        s, month = self.settings, self.month_start()
        limits = []
        if s.imagebot_monthly_budget_usd:
            limits.append(SpendLimit(where.platform, where.workspace, s.imagebot_monthly_budget_usd, month))
        if s.imagebot_person_monthly_budget_usd:
            limits.append(
                SpendLimit(
                    where.platform, where.workspace, s.imagebot_person_monthly_budget_usd, month, actor.key
                )
            )
        return limits

    def estimate(
        self, chosen: ImageOptions, op: Operation, prompt: str, inputs: Sequence[tuple[int, int]]
    ) -> float:
        """What a job may cost, reserved against the budgets until its real usage is known.
        Nothing for a provider that does not charge, or for an upscale done as a local resample."""
        if not self.provider.charges:
            return 0.0
        if op is Operation.UPSCALE and inputs:
            info = model_info(chosen.model)
            if info is not None and sizes.upscale_target(*inputs[0], info) is None:
                return 0.0
        partials = self.settings.imagebot_partial_images if chosen.n == 1 else 0
        return estimate_job_cost(
            chosen,
            self.settings.price_for(chosen.model),
            prompt=prompt,
            input_sizes=inputs,
            partial_images=max(partials, self.provider.partial_images),
        )

    async def check_budgets(self, limits: Sequence[SpendLimit], cost: float) -> None:
        """Refuse early (before a thread is opened or an upload stored) a job that would cross a
        budget; the job's record makes the same check again in one transaction."""
        for limit in limits:
            spent, reserved = await self.jobs.committed(limit)
            if limit.crossed_by(spent, reserved, cost):
                raise BotError(ErrorKind.QUOTA, budget_refusal(SpendRefusal(limit, spent, reserved), cost))
