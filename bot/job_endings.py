"""How a job's unexpected failure is told: storage trouble in plain words, anything else as our
own bug (logged with its traceback, never shown)."""

from __future__ import annotations

import logging

from bot.domain import Job
from bot.errors import BotError, ErrorKind, storage_error

log = logging.getLogger("imagebot.bot.jobs")


def failure_of(job: Job, exc: Exception) -> BotError:
    """A failure that is not already a BotError, as its requester hears it."""
    error = storage_error(exc)
    if error is not None:
        log.warning("job %s [%s] failed writing to storage: %s", job.id, job.where.platform, exc)
        return error
    log.exception("job %s [%s] crashed", job.id, job.where.platform, exc_info=exc)
    return BotError(ErrorKind.INTERNAL, "Something went wrong on our side.")
