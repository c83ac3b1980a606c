"""/describe's suggestions (bot.suggestions), and the usage row that counts their cost."""

from __future__ import annotations

import json

from bot.domain import SessionKey
from bot.records import UsageRow
from bot.suggestions import Suggestions
from storage.db import Database


class SuggestionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, suggestions: Suggestions, usage: UsageRow | None = None) -> None:
        """The suggestions and, when the call cost something, its usage row: both or neither."""
        where = suggestions.where
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO suggestions (id, platform, workspace, channel, thread, requester, source,"
                " prompts_json, model, label, input_tokens, output_tokens, cost_usd, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    suggestions.id,
                    where.platform,
                    where.workspace,
                    where.channel,
                    where.thread,
                    suggestions.requester,
                    suggestions.source,
                    json.dumps(list(suggestions.prompts)),
                    suggestions.model,
                    suggestions.label,
                    suggestions.input_tokens,
                    suggestions.output_tokens,
                    suggestions.cost_usd,
                    suggestions.created_at,
                ),
            )
            if usage is not None:
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
                        suggestions.created_at,
                    ),
                )

    async def get(self, suggestions_id: str, *, within: SessionKey) -> Suggestions | None:
        """The suggestions with this id in `within`'s workspace; another workspace's id is
        answered exactly like an unknown one."""
        row = await self.db.fetchone(
            "SELECT * FROM suggestions WHERE id=? AND platform=? AND workspace=?",
            (suggestions_id, within.platform, within.workspace),
        )
        if row is None:
            return None
        return Suggestions(
            id=row["id"],
            where=SessionKey(row["platform"], row["workspace"], row["channel"], row["thread"]),
            requester=row["requester"],
            source=row["source"],
            prompts=tuple(json.loads(row["prompts_json"])),
            model=row["model"],
            created_at=row["created_at"],
            label=row["label"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cost_usd=row["cost_usd"],
        )
