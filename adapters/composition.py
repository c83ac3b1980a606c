"""The composition root: the one place that builds the store, the provider and the core.

The core (`bot/`) only knows the storage protocols of `bot/ports.py` and takes its parts ready
made; here they are chosen and wired: SQLite and files for storage, OpenAI or the offline
renderer for images, and the executor and job runner the core submits to.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.config import Settings
from bot.executor import Executor
from bot.intake import IntakeDesk
from bot.jobs import JobRunner
from bot.outcomes import queued_reply
from bot.ports import Storage
from bot.providers.base import Provider
from bot.service import ImageBot, describe_failure, new_id
from storage.store import Store


def build_provider(settings: Settings) -> Provider:
    if settings.provider_name == "openai":
        from bot.providers.openai import OpenAIProvider

        if settings.openai_api_key is None:  # provider_name says "openai" only with a key
            raise RuntimeError("OPENAI_API_KEY is not set")
        return OpenAIProvider(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            organization=settings.openai_org_id,
            project=settings.openai_project_id,
            timeout=settings.imagebot_openai_timeout,
            max_retries=settings.imagebot_openai_max_retries,
            moderation=settings.imagebot_moderation,
            partial_images=settings.imagebot_partial_images,
            text_model=settings.imagebot_text_model,
        )
    from bot.providers.offline import OfflineProvider

    return OfflineProvider()


def assemble(
    settings: Settings, store: Storage, provider: Provider, clock: Callable[[], float] = time.time
) -> ImageBot:
    """The core on a given store and provider, with its executor, job runner and intake desk."""
    executor = Executor(
        store,
        provider,
        settings.price_for,
        new_id,
        clock,
        storage_patience=settings.imagebot_storage_patience_seconds,
        provider_retry_delay=settings.imagebot_provider_retry_seconds,
    )
    runner = JobRunner(
        store.jobs,
        executor,
        describe_failure,
        queued_reply,
        max_concurrency=settings.imagebot_max_concurrency,
        user_max_running=settings.imagebot_user_max_running,
        user_max_queued=settings.imagebot_user_max_queued,
        storage_patience=settings.imagebot_storage_patience_seconds,
    )
    return ImageBot(settings, store, provider, runner, IntakeDesk(store.intake), clock)


async def open_bot(settings: Settings) -> ImageBot:
    store = await Store.open(settings.database_path, settings.blobs_dir)
    return assemble(settings, store, build_provider(settings))


async def close_bot(bot: ImageBot) -> None:
    """Shut down in order: stop jobs, let late intake writes land, close the provider's client,
    close the database."""
    await bot.stop()
    await bot.intake.close()
    await bot.provider.close()
    await bot.store.close()
