"""Jobs (the persisted queue), usage rows and posted-message records."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiosqlite

from bot.domain import (
    ImageOptions,
    ImageSet,
    Job,
    JobPart,
    JobSpec,
    JobStatus,
    Operation,
    SessionKey,
    SpendLimit,
    SpendRefusal,
    StoredImage,
    UserRef,
)
from bot.errors import ErrorKind
from bot.records import PostKind, PostRef, RequesterUsage, UsageRow, UsageTotals
from storage.db import Database
from storage.images import insert_images, insert_set, set_current_in


def spec_to_json(spec: JobSpec) -> str:
    return json.dumps(dataclasses.asdict(spec), sort_keys=True)


def spec_from_json(text: str) -> JobSpec:
    raw = json.loads(text)
    raw["operation"] = Operation(raw["operation"])
    raw["options"] = ImageOptions(**raw["options"])
    raw["sources"] = tuple(raw["sources"])
    raw["parts"] = tuple(
        JobPart(part["prompt"], ImageOptions(**part["options"]), part["label"])
        for part in raw.get("parts", ())
    )
    return JobSpec(**raw)


Fetch = Callable[[str, tuple[Any, ...]], Awaitable[float]]  # one scalar from a query


async def _committed(fetch: Fetch, limit: SpendLimit) -> tuple[float, float]:
    person = " AND requester=?" if limit.requester is not None else ""
    args: tuple[str, ...] = (limit.platform, limit.workspace) + (
        (limit.requester,) if limit.requester else ()
    )
    spent = await fetch(
        f"SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE platform=? AND workspace=?{person}"
        " AND created_at>=?",
        (*args, limit.since),
    )
    reserved = await fetch(
        f"SELECT COALESCE(SUM(reserved_usd), 0) FROM jobs WHERE platform=? AND workspace=?{person}"
        " AND status IN ('queued', 'running')",
        args,
    )
    return spent, reserved


def _scalar_in(conn: aiosqlite.Connection) -> Fetch:
    async def fetch(sql: str, params: tuple[Any, ...]) -> float:
        async with conn.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return float(row[0]) if row else 0.0

    return fetch


_ERROR_KINDS = {kind.value: kind for kind in ErrorKind}


def _error_kind(value: str | None) -> ErrorKind | None:
    """A stored error kind; one this version does not know reads as INTERNAL, never a crash."""
    if value is None:
        return None
    return _ERROR_KINDS.get(value, ErrorKind.INTERNAL)


def _job(row: aiosqlite.Row) -> Job:
    return Job(
        id=row["id"],
        session_id=row["session_id"],
        where=SessionKey(row["platform"], row["workspace"], row["channel"], row["thread"]),
        requester=UserRef(**json.loads(row["requester_json"])),
        spec=spec_from_json(row["spec_json"]),
        status=JobStatus(row["status"]),
        created_at=row["created_at"],
        attempts=row["attempts"],
        error_kind=_error_kind(row["error_kind"]),
        error_message=row["error_message"],
        result_set_id=row["result_set_id"],
        reserved_usd=row["reserved_usd"],
        intake_key=row["intake_key"],
    )


class JobRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, job: Job, limits: Sequence[SpendLimit] = ()) -> SpendRefusal | None:
        """Record a queued job, holding its `reserved_usd` against `limits`.

        The check and the insert are one write transaction, so jobs racing for the last dollars
        of a budget are decided one at a time and the reservations never add up past it. Returns
        the first limit the job would cross (and records nothing), or None when it was recorded.
        """
        async with self.db.transaction() as conn:
            for limit in limits:
                spent, reserved = await _committed(_scalar_in(conn), limit)
                if limit.crossed_by(spent, reserved, job.reserved_usd):
                    return SpendRefusal(limit, spent, reserved)
            await conn.execute(
                "INSERT INTO jobs (id, session_id, platform, workspace, channel, thread, requester_json,"
                " requester, spec_json, status, attempts, reserved_usd, intake_key, created_at, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.session_id,
                    job.where.platform,
                    job.where.workspace,
                    job.where.channel,
                    job.where.thread,
                    json.dumps(dataclasses.asdict(job.requester)),
                    job.requester.key,
                    spec_to_json(job.spec),
                    job.status.value,
                    job.attempts,
                    job.reserved_usd,
                    job.intake_key,
                    job.created_at,
                    time.time() if job.status is JobStatus.RUNNING else None,  # it starts at once
                ),
            )
        return None

    async def by_intake_key(self, key: str) -> Job | None:
        """The job already made for an incoming request, if any (a replay after a crash)."""
        row = await self.db.fetchone("SELECT * FROM jobs WHERE intake_key=?", (key,))
        return _job(row) if row else None

    async def committed(self, limit: SpendLimit) -> tuple[float, float]:
        """(spent, reserved) in USD against a limit now: finished jobs' costs this period, and
        the reservations of jobs still queued or running."""

        async def fetch(sql: str, params: tuple[Any, ...]) -> float:
            row = await self.db.fetchone(sql, params)
            return float(row[0]) if row else 0.0

        return await _committed(fetch, limit)

    async def get(self, job_id: str, *, within: SessionKey | None = None) -> Job | None:
        """The job with this id. Given `within`, only a job of that workspace: another
        workspace's id is answered exactly like an unknown one. (Without it, for the bot's own
        bookkeeping of ids it made itself, never for ids a person typed or clicked.)"""
        if within is None:
            row = await self.db.fetchone("SELECT * FROM jobs WHERE id=?", (job_id,))
        else:
            row = await self.db.fetchone(
                "SELECT * FROM jobs WHERE id=? AND platform=? AND workspace=?",
                (job_id, within.platform, within.workspace),
            )
        return _job(row) if row else None

    async def with_status(self, *statuses: JobStatus) -> list[Job]:
        marks = ",".join("?" for _ in statuses)
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY created_at, rowid",
            tuple(s.value for s in statuses),
        )
        return [_job(row) for row in rows]

    async def mark_running(self, job_id: str) -> None:
        await self.db.execute(
            "UPDATE jobs SET status='running', attempts=attempts+1, started_at=? WHERE id=?",
            (time.time(), job_id),
        )

    async def requeue(self, job_id: str) -> None:
        await self.db.execute("UPDATE jobs SET status='queued' WHERE id=?", (job_id,))

    async def mark_finished(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error_kind: ErrorKind | None = None,
        error_message: str | None = None,
    ) -> None:
        await self.db.execute(
            "UPDATE jobs SET status=?, error_kind=?, error_message=?, finished_at=? WHERE id=?",
            (status.value, error_kind.value if error_kind else None, error_message, time.time(), job_id),
        )

    async def complete(
        self,
        job: Job,
        images: list[StoredImage],
        image_set: ImageSet | None,
        usage: UsageRow,
        *,
        current_image_id: str | None,
        awaiting_pick: bool,
    ) -> None:
        """Store a job's results in one transaction: images, set, usage, job row, session state."""
        async with self.db.transaction() as conn:
            if image_set is not None:
                await insert_set(conn, image_set)
            await insert_images(conn, images, job.id)
            await conn.execute(
                "INSERT INTO usage (job_id, platform, workspace, requester, model, images, input_tokens,"
                " output_tokens, cost_usd, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    usage.job_id,
                    usage.platform,
                    usage.workspace,
                    usage.requester,
                    usage.model,
                    usage.images,
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cost_usd,
                    time.time(),
                ),
            )
            await conn.execute(
                "UPDATE jobs SET status='done', result_set_id=?, finished_at=? WHERE id=?",
                (image_set.id if image_set else images[0].id, time.time(), job.id),
            )
            await set_current_in(
                conn,
                job.session_id,
                current_image_id,
                image_set.id if image_set else None,
                awaiting_pick,
            )

    # --- usage ----------------------------------------------------------------------------------
    async def usage_of_requester(self, requester: str, since: float) -> UsageTotals:
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(images),0) AS images, COALESCE(SUM(cost_usd),0) AS cost, COUNT(*) AS jobs"
            " FROM usage WHERE requester=? AND created_at>=?",
            (requester, since),
        )
        if row is None:
            raise RuntimeError("an aggregate over usage returned no row")
        return UsageTotals(row["images"], row["cost"], row["jobs"])

    async def usage_of_workspace(self, platform: str, workspace: str, since: float) -> UsageTotals:
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(images),0) AS images, COALESCE(SUM(cost_usd),0) AS cost, COUNT(*) AS jobs"
            " FROM usage WHERE platform=? AND workspace=? AND created_at>=?",
            (platform, workspace, since),
        )
        if row is None:
            raise RuntimeError("an aggregate over usage returned no row")
        return UsageTotals(row["images"], row["cost"], row["jobs"])

    async def top_users(
        self, platform: str, workspace: str, since: float, limit: int = 10
    ) -> list[RequesterUsage]:
        rows = await self.db.fetchall(
            "SELECT requester, SUM(images) AS images, SUM(cost_usd) AS cost FROM usage"
            " WHERE platform=? AND workspace=? AND created_at>=? GROUP BY requester"
            " ORDER BY cost DESC, images DESC LIMIT ?",
            (platform, workspace, since, limit),
        )
        return [RequesterUsage(r["requester"], r["images"], r["cost"]) for r in rows]

    async def undelivered(self, platform: str, since: float) -> list[Job]:
        """Jobs of a platform that ended since `since` (with images, or failed) but whose outcome
        was never recorded as posted (the process stopped between recording and posting), oldest
        first: a failure message is owed as much as a result."""
        rows = await self.db.fetchall(
            "SELECT * FROM jobs j WHERE j.status IN ('done', 'failed') AND j.platform=? AND j.finished_at>=?"
            " AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.job_id=j.id AND p.kind='result')"
            " ORDER BY j.finished_at",
            (platform, since),
        )
        return [_job(row) for row in rows]

    async def unfinalised(self, platform: str, since: float) -> list[Job]:
        """Jobs of a platform that ended since `since` whose outcome was posted and whose status
        message was recorded, but whose status was never brought to its end (the process
        stopped in between): a status message must not say "working" forever."""
        rows = await self.db.fetchall(
            "SELECT * FROM jobs j WHERE j.status IN ('done', 'failed') AND j.platform=? AND j.finished_at>=?"
            " AND EXISTS (SELECT 1 FROM posts p WHERE p.job_id=j.id AND p.kind='result')"
            " AND EXISTS (SELECT 1 FROM posts p WHERE p.job_id=j.id AND p.kind='status')"
            " AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.job_id=j.id AND p.kind='final')"
            " ORDER BY j.finished_at",
            (platform, since),
        )
        return [_job(row) for row in rows]

    # --- posts ----------------------------------------------------------------------------------
    async def record_post(self, job_id: str, platform: str, post: PostRef) -> None:
        identity = f"{post.kind.value}:{post.channel}:{post.message or '-'}"
        await self.db.execute(
            "INSERT OR IGNORE INTO posts (job_id, platform, message_ref, kind, channel, message, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job_id, platform, identity, post.kind.value, post.channel, post.message, time.time()),
        )

    async def posts(self, job_id: str) -> list[PostRef]:
        """A job's posts, oldest first."""
        rows = await self.db.fetchall(
            "SELECT kind, channel, message FROM posts WHERE job_id=? ORDER BY created_at, rowid", (job_id,)
        )
        return [PostRef(PostKind(r["kind"]), r["channel"], r["message"]) for r in rows]
