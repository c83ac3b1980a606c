"""What people ask about the bot itself: the queue, cancelling, usage and budgets, help."""

from __future__ import annotations

from bot.answers import Notice, Outcome
from bot.config import Settings
from bot.domain import SessionKey, UserRef
from bot.errors import BotError, ErrorKind
from bot.jobs import JobRunner
from bot.outcomes import count
from bot.policy import Policy
from bot.ports import JobRepository
from bot.text import display_text


class Reports:
    def __init__(self, settings: Settings, jobs: JobRepository, runner: JobRunner, policy: Policy) -> None:
        self.settings = settings
        self.jobs = jobs
        self.runner = runner
        self.policy = policy

    def queue(self, actor: UserRef, where: SessionKey) -> Outcome:
        entries = self.runner.entries()
        running = sum(1 for e in entries if e.running)
        waiting = len(entries) - running
        lines = [f"{running} running, {waiting} waiting."]
        for entry in entries:
            if not entry.job.where.same_workspace(where):
                continue  # another workspace's jobs are never listed, not even to admins
            if entry.job.requester.key != actor.key and not actor.is_admin:
                continue
            state = "running" if entry.running else f"#{entry.position} in line"
            lines.append(
                f"`{entry.job.id}` {entry.job.spec.operation.value} “{display_text(entry.job.spec.prompt, 50)}” — {state}"
            )
        if len(lines) == 1:
            lines.append("You have nothing queued.")
        return Notice("\n".join(lines))

    async def cancel(self, actor: UserRef, where: SessionKey, job_id: str | None = None) -> Outcome:
        if not job_id:
            mine = [
                e.job
                for e in self.runner.entries()
                if e.job.requester.key == actor.key and e.job.where.same_workspace(where)
            ]
            if not mine:
                raise BotError(ErrorKind.NOT_FOUND, "You have no job queued or running.")
            job_id = mine[-1].id
        job_id = job_id.strip().lstrip("`")
        job = self.runner.active_job(job_id)
        if job is None or not job.where.same_workspace(where):  # another workspace's: not found
            raise BotError(ErrorKind.NOT_FOUND, f"Job `{job_id}` is not queued or running.")
        if job.requester.key != actor.key and not actor.is_admin:
            raise BotError(
                ErrorKind.FORBIDDEN, f"Only {job.requester.label} or an admin can cancel job `{job_id}`."
            )
        await self.runner.cancel(job.id)
        return Notice(f"Cancelling job `{job.id}`.", job_id=job.id)

    async def usage(self, actor: UserRef, where: SessionKey) -> Outcome:
        """/usage: my images and estimated spend; the budgets in force and what is left of them
        (jobs still running hold their estimate); admins: the whole team."""
        month = self.policy.month_start()
        today = await self.jobs.usage_of_requester(actor.key, self.policy.day_start())
        this_month = await self.jobs.usage_of_requester(actor.key, month)
        quota = self.settings.imagebot_daily_image_quota
        lines = [
            f"You today: {count(today.images, 'image')}, ~${today.cost_usd:.2f}"
            + (f" (daily quota {quota})" if quota else ""),
            f"You this month: {count(this_month.images, 'image')}, ~${this_month.cost_usd:.2f}",
        ]
        for limit in self.policy.spend_limits(actor, where):
            spent, held = await self.jobs.committed(limit)
            left = max(limit.budget_usd - spent - held, 0.0)
            whose = "Your" if limit.requester else "Team"
            lines.append(
                f"{whose} budget this month: ${left:.2f} of ${limit.budget_usd:.2f} left"
                f" (~${spent:.2f} spent" + (f", ${held:.2f} held by jobs still running)" if held else ")")
            )
        if actor.is_admin:
            team = await self.jobs.usage_of_workspace(where.platform, where.workspace, month)
            lines.append(f"Team this month: {count(team.images, 'image')}, ~${team.cost_usd:.2f}")
            for row in await self.jobs.top_users(where.platform, where.workspace, month):
                lines.append(
                    f"  {display_text(row.requester, 60)}: {count(row.images, 'image')}, ~${row.cost_usd:.2f}"
                )
        lines.append("Costs are estimates from the API's token usage.")
        return Notice("\n".join(lines))
