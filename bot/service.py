"""The use cases of imagebot, once for every platform.

Adapters call these methods with typed requests and render the `Reply` they get back; job
results arrive later through the presenter each adapter registers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

from bot import imaging, options, press, sizes
from bot.buttons import ButtonId, Verb
from bot.commands import Surface
from bot.config import Settings
from bot.costs import budget_refusal, estimate_job_cost
from bot.domain import (
    Attachment,
    Button,
    ImageOptions,
    Job,
    JobSpec,
    JobStatus,
    Operation,
    OptionOverrides,
    Reply,
    Session,
    SessionKey,
    SpendLimit,
    SpendRefusal,
    StoredImage,
    UserRef,
)
from bot.errors import BotError, ErrorKind, invalid, storage_error
from bot.executor import HEADLINES, Executor
from bot.help import help_text
from bot.intake import IntakeDesk, current_intake_key
from bot.jobs import JobRunner, Presenter
from bot.model_catalog import MODELS, ModelInfo, model_info
from bot.preferences import SCOPES, Scope, combine, describe, layered, scope_key, updated
from bot.providers.base import Provider
from bot.replies import (
    cancel_button,
    error_reply,
    image_buttons,
    retry_buttons,
    set_buttons,
    set_reply,
    single_reply,
)
from bot.text import display_text
from storage.store import Store

log = logging.getLogger(f"imagebot.{__name__}")

NO_OVERRIDES = OptionOverrides()
OpenSession = Callable[[], Awaitable[SessionKey]]
MAX_REFERENCES = 15  # the API takes up to 16 images per edit; the primary image is one of them
_PICK = re.compile(r"^\s*#(\d+)\b\s*(.*)$", re.DOTALL)


def new_id() -> str:
    """A short id people can type: 8 hex characters."""
    return secrets.token_hex(4)


class ImageBot:
    def __init__(
        self, settings: Settings, store: Store, provider: Provider, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.store = store
        self.provider = provider
        self.clock = clock
        self.executor = Executor(
            store,
            provider,
            settings.price_for,
            new_id,
            clock,
            storage_patience=settings.imagebot_storage_patience_seconds,
            provider_retry_delay=settings.imagebot_provider_retry_seconds,
        )
        self.intake = IntakeDesk(store.intake)
        self.runner = JobRunner(
            store.jobs,
            self.executor,
            self._describe_failure,
            max_concurrency=settings.imagebot_max_concurrency,
            user_max_running=settings.imagebot_user_max_running,
            user_max_queued=settings.imagebot_user_max_queued,
            storage_patience=settings.imagebot_storage_patience_seconds,
        )

    # --- life cycle -----------------------------------------------------------------------------
    def register_presenter(self, platform: str, presenter: Presenter) -> None:
        self.runner.register_presenter(platform, presenter)

    async def start(self) -> None:
        pruned = await self.intake.prune()
        if pruned:
            log.info("forgot %d handled requests older than a week", pruned)
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.intake.close()

    # --- generating -----------------------------------------------------------------------------
    async def imagine(
        self,
        actor: UserRef,
        where: SessionKey,
        text: str,
        overrides: OptionOverrides = NO_OVERRIDES,
        references: Sequence[Attachment] = (),
        open_session: OpenSession | None = None,
    ) -> Reply:
        """/imagine: N new images from a prompt (with optional reference images).

        `open_session`, when given, is called once the request is valid and accepted, and returns
        the thread that becomes the session (e.g. a thread created under the acknowledgement), so
        a refused request never leaves an empty thread behind.
        """
        try:
            self._check_channel(where)
            prompt, flags = options.split_flags(text)
            prompt = options.validate_prompt(prompt)
            chosen = await self.options_for(actor, where, flags.merged_over(overrides))
            refs = await self._decode_all(references)
            return await self._submit(
                actor, where, Operation.IMAGINE, prompt, chosen, uploads=refs, open_session=open_session
            )
        except BotError as error:
            return error_reply(error)

    async def options_for(self, actor: UserRef, where: SessionKey, request: OptionOverrides) -> ImageOptions:
        """The options a new /imagine gets: what the request typed, over the saved defaults
        (me > channel > workspace), over the bot's. A typed flag or option always wins."""
        defaults = await self._preferences(actor, where)
        combined = combine(request, defaults, _qualities_of)
        return self._resolve(combined.overrides, default_format=combined.default_format)

    async def edit_upload(
        self,
        actor: UserRef,
        where: SessionKey,
        image: Attachment,
        instruction: str,
        mask: Attachment | None = None,
        overrides: OptionOverrides = NO_OVERRIDES,
        references: Sequence[Attachment] = (),
        open_session: OpenSession | None = None,
    ) -> Reply:
        """/edit: start (or continue) a session from an uploaded image and edit it."""
        try:
            self._check_channel(where)
            text, flags = options.split_flags(instruction)
            text = options.validate_prompt(text, what="instruction")
            decoded = await self._decode_all([image, *references])
            main = decoded[0][1]
            chosen = self._resolve(
                flags.merged_over(overrides), default_n=1, keep_size=(main.width, main.height)
            )
            mask_png = None
            if mask is not None:
                mask_png = await asyncio.to_thread(
                    imaging.mask_from_upload, mask.data, main.width, main.height
                )
            queued = await self._submit(
                actor,
                where,
                Operation.EDIT,
                text,
                chosen,
                uploads=decoded,
                mask_png=mask_png,
                open_session=open_session,
            )
            asked = flags.merged_over(overrides)
            sized = asked.size is not None or asked.aspect is not None
            return queued if sized else _with_size_note(queued, image.filename, main, chosen)
        except BotError as error:
            return error_reply(error)

    async def vary_upload(
        self,
        actor: UserRef,
        where: SessionKey,
        image: Attachment,
        *,
        strong: bool = False,
        open_session: OpenSession | None = None,
    ) -> Reply:
        """The "Vary image" menu on any message with an image: variations of that picture."""
        try:
            self._check_channel(where)
            decoded = await self._decode_all([image])
            main = decoded[0][1]
            chosen = self._resolve(OptionOverrides(), keep_size=(main.width, main.height))
            op = Operation.VARY_STRONG if strong else Operation.VARY_SUBTLE
            queued = await self._submit(
                actor,
                where,
                op,
                f"the uploaded image {image.filename}",
                chosen,
                uploads=decoded,
                open_session=open_session,
            )
            return _with_size_note(queued, image.filename, main, chosen)
        except BotError as error:
            return error_reply(error)

    async def reply(
        self, actor: UserRef, where: SessionKey, text: str, attachments: Sequence[Attachment] = ()
    ) -> Reply:
        """A reply in a session thread: edit the current image (PRODUCT.md §2)."""
        try:
            self._check_channel(where)
            session = await self.store.images.find_session(where)
            if session is None or (session.current_image_id is None and session.last_set_id is None):
                raise invalid("There is no image in this thread yet: start with /imagine <prompt>.")
            if text.strip().lower() == "undo":
                return await self._undo(actor, session)
            picked = _PICK.match(text)
            if picked:
                target = await self._pick(session, int(picked.group(1)))
                text = picked.group(2)
                if not text.strip() and not attachments:
                    return await self._make_current(session, target, actor, "👉 Selected")
            elif session.awaiting_pick:
                return await self._ask_which(session)
            else:
                current = await self.store.images.image(session.current_image_id or "", within=where)
                if current is None:
                    raise invalid("There is no current image in this thread: pick one or /imagine anew.")
                target = current
            return await self._edit_image(actor, where, target, text, attachments)
        except BotError as error:
            return error_reply(error)

    async def edit_image(self, actor: UserRef, where: SessionKey, image_id: str, instruction: str) -> Reply:
        """The Edit… form: an instruction applied to a given image."""
        try:
            self._check_channel(where)
            image = await self._image(image_id, where)
            return await self._edit_image(actor, where, image, instruction, ())
        except BotError as error:
            return error_reply(error)

    async def _edit_image(
        self,
        actor: UserRef,
        where: SessionKey,
        image: StoredImage,
        instruction: str,
        attachments: Sequence[Attachment],
    ) -> Reply:
        text, flags = options.split_flags(instruction)
        text = options.validate_prompt(text, what="instruction")
        refs = await self._decode_all(attachments)
        # One rule for replies and buttons: the image's own model, quality, format and
        # background, unless the reply's flags say otherwise; the image's size.
        inherited = self._inherited(image)
        if flags.output_format and flags.background is None:
            inherited = dataclasses.replace(inherited, background=None)  # e.g. --format jpeg on a cut-out
        chosen = self._resolve(
            flags.merged_over(inherited), default_n=1, keep_size=(image.width, image.height)
        )
        return await self._submit(
            actor, where, Operation.EDIT, text, chosen, sources=(image.id,), uploads=refs
        )

    # --- buttons --------------------------------------------------------------------------------
    async def press(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
        """A button click (or its console word); what each verb does is in bot.press."""
        try:
            self._check_channel(where)
            active = self.runner.active_job_for_origin(button.encode())
            if active is not None:
                return Reply(
                    text=f"Already on it: job `{active}` is working on that.", ephemeral=True, job_id=active
                )
            return await press.dispatch(self, actor, where, button)
        except BotError as error:
            return error_reply(error)

    async def _vary(
        self, actor: UserRef, where: SessionKey, image: StoredImage, op: Operation, origin: str
    ) -> Reply:
        # Variations are new renders: an upscaled image is varied at its aspect's everyday size
        # (as --ar picks it), never at the upscale's size and cost by accident.
        size = (image.width, image.height)
        if _is_upscaled(image):
            size = sizes.standard_size_like(image.width, image.height, self._model_of(image))
        chosen = self._options_like(image, n=self.settings.imagebot_default_n, size=size)
        return await self._submit(actor, where, op, image.prompt, chosen, sources=(image.id,), origin=origin)

    async def _finish_op(
        self,
        actor: UserRef,
        where: SessionKey,
        image: StoredImage,
        op: Operation,
        origin: str,
        *,
        zoom: float | None = None,
        aspect: str | None = None,
    ) -> Reply:
        chosen = self._options_like(image, n=1)
        info = model_info(chosen.model)
        assert info is not None
        # Plan now, so an impossible request ("already square") is refused before it is queued
        # and the queued message names the size that will really be made.
        if op is Operation.UPSCALE:
            target = sizes.upscale_target(image.width, image.height, info) or sizes.local_upscale_size(
                image.width, image.height
            )
            chosen = dataclasses.replace(chosen, size=f"{target[0]}x{target[1]}")
        if op in (Operation.ZOOM_OUT, Operation.ASPECT):
            if op is Operation.ZOOM_OUT:
                placement = sizes.zoom_placement(image.width, image.height, zoom or 2.0, info)
            else:
                placement = sizes.aspect_placement(image.width, image.height, aspect or "1:1", info)
            chosen = dataclasses.replace(chosen, size=f"{placement.canvas_width}x{placement.canvas_height}")
        if op is Operation.REMOVE_BG:
            chosen = dataclasses.replace(
                chosen, background="transparent", output_format="png", compression=None
            )
        return await self._submit(
            actor,
            where,
            op,
            image.prompt,
            chosen,
            sources=(image.id,),
            origin=origin,
            zoom=zoom,
            aspect=aspect,
        )

    async def _reroll(self, actor: UserRef, where: SessionKey, target: str, origin: str) -> Reply:
        image_set = await self.store.images.image_set(target, within=where)
        first = await self._image(image_set.image_ids[0] if image_set else target, where)
        self._check_may_press(actor, first.requester)
        chosen = self._options_like(first, n=len(image_set.image_ids) if image_set else 1)
        # The same request again: a new prompt roll for generations, the same operation on the
        # same inputs for everything else (variations of variations, a fresh take on an edit).
        fresh = first.operation in (Operation.IMAGINE, Operation.REROLL)
        op = Operation.REROLL if fresh else first.operation
        sources = first.parents
        return await self._submit(actor, where, op, first.prompt, chosen, sources=sources, origin=origin)

    async def _retry(self, actor: UserRef, where: SessionKey, job_id: str) -> Reply:
        job = await self.store.jobs.get(job_id, within=where)
        if job is None:
            raise BotError(ErrorKind.NOT_FOUND, f"Job `{job_id}` is not stored here.")
        if job.status is not JobStatus.FAILED:
            raise invalid(f"Job `{job_id}` is {job.status.value}; only failed jobs can be retried.")
        if job.requester.key != actor.key and not actor.is_admin:
            raise BotError(ErrorKind.FORBIDDEN, f"Only {job.requester.label} or an admin can retry this job.")
        earlier = await self._job_of_this_request()
        if earlier is not None:
            return _queued_reply(earlier, self.runner.position(earlier.id) or 0)
        await self._check_quota(actor, job.where, job.spec.options.n)
        inputs = [(i.width, i.height) for i in [await self._image(s, job.where) for s in job.spec.sources]]
        reserve = self._estimate(job.spec.options, job.spec.operation, job.spec.prompt, inputs)
        retry = Job(
            id=new_id(),
            session_id=job.session_id,
            where=job.where,
            requester=job.requester,
            spec=job.spec,
            status=JobStatus.QUEUED,
            created_at=self.clock(),
            reserved_usd=reserve,
            intake_key=current_intake_key.get(),
        )
        limits = self._spend_limits(job.requester, job.where)
        position = await self.runner.submit(
            retry, origin=ButtonId(Verb.RETRY, job_id).encode(), limits=limits
        )
        return _queued_reply(retry, position)

    # --- selecting, undo, show, history ---------------------------------------------------------
    async def _make_current(
        self, session: Session, image: StoredImage, actor: UserRef, headline: str
    ) -> Reply:
        await self.store.images.set_current(session.id, image.id, awaiting_pick=False)
        return await single_reply(image, self.store.blobs, await self._label(image), headline)

    async def _undo(self, actor: UserRef, session: Session, image: StoredImage | None = None) -> Reply:
        current = image or await self.store.images.image(session.current_image_id or "", within=session.key)
        if current is None:
            raise invalid("Nothing to undo: there is no current image in this thread.")
        if not current.parents:
            raise invalid(f"Nothing to undo: `{current.id}` is where this thread's history starts.")
        parent = await self._image(current.parents[0], session.key)
        return await self._make_current(session, parent, actor, f"↩️ Back to `{parent.id}`")

    async def _pick(self, session: Session, number: int) -> StoredImage:
        if session.last_set_id is None:
            raise invalid("There is no multi-image result in this thread to pick from.")
        image_set = await self.store.images.image_set(session.last_set_id, within=session.key)
        assert image_set is not None
        return await self._image(
            image_set.image_ids[press.image_number(str(number), len(image_set.image_ids)) - 1], session.key
        )

    async def _ask_which(self, session: Session) -> Reply:
        image_set = await self.store.images.image_set(session.last_set_id or "", within=session.key)
        assert image_set is not None
        count = len(image_set.image_ids)
        picks = tuple(b for b in set_buttons(image_set) if b.verb is Verb.U)
        return Reply(
            text=f"Which image should I change? Pick one (U1–U{count}), or start your reply with #N, e.g. `#2 {''}make it warmer`.",
            buttons=picks,
            # Not a failure of the bot, but the line did not do what it asked until a pick is made.
            error_kind=ErrorKind.INVALID_INPUT.value,
        )

    async def show(
        self, actor: UserRef, where: SessionKey, ident: str, open_session: OpenSession | None = None
    ) -> Reply:
        """/show <id>: re-post an image (and make it current here) or a whole set, with buttons.

        `open_session` (as for imagine) is called only once the id is known to exist.
        """
        ident = ident.strip().lstrip("`#")
        try:
            self._check_channel(where)
            image = await self.store.images.image(ident, within=where)
            image_set = None if image is not None else await self.store.images.image_set(ident, within=where)
            if (image is not None or image_set is not None) and open_session is not None:
                where = await open_session()
            if image is not None:
                session = await self.store.images.session_for(where)
                return await self._make_current(session, image, actor, f"🖼️ `{image.id}`")
            if image_set is not None:
                members = [await self._image(i, where) for i in image_set.image_ids]
                return await set_reply(
                    image_set, members, self.store.blobs, await self._label(members[0]), "🖼️ Set"
                )
            raise BotError(ErrorKind.NOT_FOUND, f"No image or set with id `{ident}`; /history lists them.")
        except BotError as error:
            return error_reply(error)

    async def history(
        self, actor: UserRef, where: SessionKey, *, mine: bool = False, limit: int = 10
    ) -> Reply:
        """/history: this thread's images (or mine), newest first, with ids for /show."""
        session = await self.store.images.find_session(where)
        if mine or session is None:
            images = await self.store.images.requester_history(actor.key, within=where, limit=limit)
            title = "Your recent images"
        else:
            images = await self.store.images.session_history(session.id, limit=limit)
            title = "This thread's images"
        if not images:
            return Reply(text=f"{title}: none yet. Start with /imagine <prompt>.", ephemeral=True)
        current = session.current_image_id if session else None
        lines = [f"{title} (newest first):"]
        for image in images:
            marker = " ← current" if image.id == current else ""
            where_in_set = f" #{image.set_index} of set `{image.set_id}`" if image.set_id else ""
            lines.append(
                f"`{image.id}` {image.operation.value} {image.size}{where_in_set} “{_trim(image.prompt, 60)}”{marker}"
            )
        return Reply(text="\n".join(lines), ephemeral=True)

    # --- queue, cancel, usage, help -------------------------------------------------------------
    async def queue(self, actor: UserRef, where: SessionKey) -> Reply:
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
                f"`{entry.job.id}` {entry.job.spec.operation.value} “{_trim(entry.job.spec.prompt, 50)}” — {state}"
            )
        if len(lines) == 1:
            lines.append("You have nothing queued.")
        return Reply(text="\n".join(lines), ephemeral=True)

    async def cancel(self, actor: UserRef, where: SessionKey, job_id: str | None = None) -> Reply:
        try:
            if not job_id:
                mine = [
                    e.job
                    for e in self.runner.entries()
                    if e.job.requester.key == actor.key and e.job.where.same_workspace(where)
                ]
                if not mine:
                    raise BotError(ErrorKind.NOT_FOUND, "You have no job queued or running.")
                job_id = mine[-1].id
            job = await self.runner.cancel(job_id.strip().lstrip("`"), actor, where)
            return Reply(text=f"Cancelling job `{job.id}`.", ephemeral=True, job_id=job.id)
        except BotError as error:
            return error_reply(error)

    async def usage(self, actor: UserRef, where: SessionKey) -> Reply:
        """/usage: my images and estimated spend; the budgets in force and what is left of them
        (jobs still running hold their estimate); admins: the whole team."""
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        month = self._month_start()
        today = await self.store.jobs.usage_of_requester(actor.key, day)
        this_month = await self.store.jobs.usage_of_requester(actor.key, month)
        quota = self.settings.imagebot_daily_image_quota
        lines = [
            f"You today: {_count(today.images, 'image')}, ~${today.cost_usd:.2f}"
            + (f" (daily quota {quota})" if quota else ""),
            f"You this month: {_count(this_month.images, 'image')}, ~${this_month.cost_usd:.2f}",
        ]
        for limit in self._spend_limits(actor, where):
            spent, held = await self.store.jobs.committed(limit)
            left = max(limit.budget_usd - spent - held, 0.0)
            whose = "Your" if limit.requester else "Team"
            lines.append(
                f"{whose} budget this month: ${left:.2f} of ${limit.budget_usd:.2f} left"
                f" (~${spent:.2f} spent" + (f", ${held:.2f} held by jobs still running)" if held else ")")
            )
        if actor.is_admin:
            team = await self.store.jobs.usage_of_workspace(where.platform, where.workspace, month)
            lines.append(f"Team this month: {_count(team.images, 'image')}, ~${team.cost_usd:.2f}")
            for who, images, cost in await self.store.jobs.top_users(where.platform, where.workspace, month):
                lines.append(f"  {display_text(who, 60)}: {_count(images, 'image')}, ~${cost:.2f}")
        lines.append("Costs are estimates from the API's token usage.")
        return Reply(text="\n".join(lines), ephemeral=True)

    def help(self, surface: Surface) -> Reply:
        """/help, with the command list spelled as the asking platform spells it."""
        return Reply(text=help_text(surface), ephemeral=True)

    async def settings_view(self, actor: UserRef, where: SessionKey) -> Reply:
        """/settings with no changes: the defaults in force here, layer by layer."""
        lines = ["Defaults for new /imagine requests (a --flag or option always wins):"]
        for scope in SCOPES:
            values = await self.store.preferences.get(*scope_key(scope, actor, where))
            lines.append(f"• {_SCOPE_NAMES[scope]} defaults: {describe(values)}")
        s = self.settings
        lines.append(
            f"• bot: --model {s.imagebot_model} --n {s.imagebot_default_n} --quality {s.imagebot_default_quality}"
        )
        lines.append(
            "Change with `/settings me --n 2 --ar 16:9` (admins: `channel` or `workspace`); `reset` clears a layer."
        )
        return Reply(text="\n".join(lines), ephemeral=True)

    async def update_settings(self, actor: UserRef, where: SessionKey, scope: str, changes: str) -> Reply:
        """/settings <me|channel|workspace> <--flags | reset>: change one layer of defaults."""
        try:
            if scope not in SCOPES:
                raise invalid(f"Settings apply to me, channel or workspace, not {scope!r}.")
            layer: Scope = scope  # type: ignore[assignment]
            if layer != "me" and not actor.is_admin:
                raise BotError(ErrorKind.FORBIDDEN, f"Only admins can change the {layer}'s defaults.")
            key = scope_key(layer, actor, where)
            if changes.strip().lower() == "reset":
                await self.store.preferences.put(*key, OptionOverrides(), actor.key)
                return Reply(text=f"{_SCOPE_NAMES[layer]} defaults cleared.", ephemeral=True)
            rest, values = options.split_flags(changes)
            if rest.strip():
                raise invalid(
                    f"Settings are options like --n 2 or --ar 16:9; I did not understand {rest.strip()!r}."
                )
            merged = updated(await self.store.preferences.get(*key), values)
            self._resolve(merged)  # refuse what would make every later /imagine fail
            await self.store.preferences.put(*key, merged, actor.key)
            return Reply(text=f"{_SCOPE_NAMES[layer]} defaults: {describe(merged)}", ephemeral=True)
        except BotError as error:
            return error_reply(error)

    async def _preferences(self, actor: UserRef, where: SessionKey) -> OptionOverrides:
        layers = [await self.store.preferences.get(*scope_key(scope, actor, where)) for scope in SCOPES]
        return layered(*layers)

    async def undelivered(self, platform: str, within: float = 86_400.0) -> list[tuple[Job, Reply]]:
        """Outcomes of the last `within` seconds that were recorded but never posted (results, and
        failure messages with their Retry button), so an adapter can deliver them after a restart
        (at least once, never lost)."""
        return await self._with_outcomes(await self.store.jobs.undelivered(platform, self.clock() - within))

    async def unfinalised(self, platform: str, within: float = 86_400.0) -> list[tuple[Job, Reply]]:
        """Jobs of the last `within` seconds whose outcome was posted but whose status message
        was never brought to its end, with their outcomes (for the "✅ Done…" line)."""
        return await self._with_outcomes(await self.store.jobs.unfinalised(platform, self.clock() - within))

    async def _with_outcomes(self, jobs: list[Job]) -> list[tuple[Job, Reply]]:
        """Each finished job with its outcome as posted (result or failure message)."""
        found = []
        for job in jobs:
            reply = await self._result_of(job)
            if reply is not None:
                found.append((job, reply))
        return found

    async def _result_of(self, job: Job) -> Reply | None:
        if job.status is JobStatus.FAILED:
            kinds = {kind.value: kind for kind in ErrorKind}
            kind = kinds.get(job.error_kind or "", ErrorKind.INTERNAL)
            return self._describe_failure(job, BotError(kind, job.error_message or "Something went wrong."))
        headline = HEADLINES[job.spec.operation]
        image_set = await self.store.images.image_set(job.result_set_id or "", within=job.where)
        if image_set is not None:
            members = [await self._image(i, job.where) for i in image_set.image_ids]
            label = await self._label(members[0])
            return await set_reply(image_set, members, self.store.blobs, label, headline, job_id=job.id)
        image = await self.store.images.image(job.result_set_id or "", within=job.where)
        if image is None:
            return None
        return await single_reply(image, self.store.blobs, await self._label(image), headline, job_id=job.id)

    async def session_state(self, where: SessionKey) -> Session | None:
        """The thread's session (current image, last set), or None before its first image."""
        return await self.store.images.find_session(where)

    # --- internals ------------------------------------------------------------------------------
    def _resolve(
        self,
        overrides: OptionOverrides,
        *,
        default_n: int | None = None,
        keep_size: tuple[int, int] | None = None,
        default_format: str | None = None,
    ) -> ImageOptions:
        base_size = None
        if keep_size is not None and overrides.size is None and overrides.aspect is None:
            base_size = f"{keep_size[0]}x{keep_size[1]}"
        return options.resolve_options(
            overrides,
            default_model=self.settings.imagebot_model,
            default_n=default_n or self.settings.imagebot_default_n,
            allowed_models=self.settings.imagebot_allowed_models or None,
            base_size=base_size,
            default_quality=self.settings.imagebot_default_quality,
            default_format=default_format or "png",
        )

    def _inherited(self, image: StoredImage) -> OptionOverrides:
        """What a new render from `image` keeps unless asked otherwise: its model, quality, format
        and background (an upload has none of these, so the defaults apply)."""

        def param(name: str) -> str | None:
            value = image.params.get(name)
            return str(value) if value else None

        return OptionOverrides(
            model=param("model") or self.settings.imagebot_model,
            quality=param("quality"),
            output_format=param("output_format"),
            background=param("background"),
        )

    def _model_of(self, image: StoredImage) -> ModelInfo:
        info = model_info(str(image.params.get("model") or self.settings.imagebot_model))
        return info or model_info(self.settings.imagebot_model) or MODELS["gpt-image-2"]

    def _options_like(
        self, image: StoredImage, *, n: int, size: tuple[int, int] | None = None
    ) -> ImageOptions:
        """Options for a button on `image`: what it inherits, at its own size unless given one."""
        return self._resolve(
            self._inherited(image), default_n=n, keep_size=size or (image.width, image.height)
        )

    async def _decode_all(
        self, attachments: Sequence[Attachment]
    ) -> list[tuple[Attachment, imaging.DecodedImage]]:
        if len(attachments) > MAX_REFERENCES + 1:
            raise invalid(f"Too many images: send at most {MAX_REFERENCES + 1} at once.")
        decoded = []
        for attachment in attachments:
            result = await asyncio.to_thread(imaging.decode_upload, attachment.data, attachment.filename)
            decoded.append((attachment, result))
        return decoded

    async def _check_quota(self, actor: UserRef, where: SessionKey, count: int) -> None:
        quota = self.settings.imagebot_daily_image_quota
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        if quota:
            day = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
            used = (await self.store.jobs.usage_of_requester(actor.key, day)).images
            if used + count > quota:
                raise BotError(
                    ErrorKind.QUOTA,
                    f"Daily quota reached: you have made {used} of {quota} images today"
                    f" and this would make {count} more. It resets at midnight UTC.",
                )

    def _month_start(self) -> float:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()

    def _spend_limits(self, actor: UserRef, where: SessionKey) -> list[SpendLimit]:
        """The monthly budgets a new job of `actor` in `where` must fit in (0 = no budget)."""
        s, month = self.settings, self._month_start()
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

    def _estimate(
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

    async def _check_budgets(self, limits: Sequence[SpendLimit], cost: float) -> None:
        """Refuse early (before a thread is opened or an upload stored) a job that would cross a
        budget; the job's record makes the same check again in one transaction."""
        for limit in limits:
            spent, reserved = await self.store.jobs.committed(limit)
            if limit.crossed_by(spent, reserved, cost):
                raise BotError(ErrorKind.QUOTA, budget_refusal(SpendRefusal(limit, spent, reserved), cost))

    async def _submit(
        self,
        actor: UserRef,
        where: SessionKey,
        op: Operation,
        prompt: str,
        chosen: ImageOptions,
        *,
        sources: tuple[str, ...] = (),
        uploads: Sequence[tuple[Attachment, imaging.DecodedImage]] = (),
        mask_png: bytes | None = None,
        origin: str | None = None,
        zoom: float | None = None,
        aspect: str | None = None,
        open_session: OpenSession | None = None,
    ) -> Reply:
        """Check limits, store uploads, record and queue the job. Validation is all done before
        anything is stored, so a refused request leaves nothing behind.

        Handled again after a crash (the same current intake key), a request whose job was
        already recorded gets that job back: one request never makes, or pays for, two jobs."""
        earlier = await self._job_of_this_request()
        if earlier is not None:
            return _queued_reply(earlier, self.runner.position(earlier.id) or 0)
        self._check_role(actor, chosen)
        await self._check_quota(actor, where, chosen.n)
        self.runner.check_capacity(actor)  # before storing uploads, so a refusal leaves nothing
        inputs = [(d.width, d.height) for _, d in uploads] + [
            (image.width, image.height) for image in [await self._image(i, where) for i in sources]
        ]
        reserve = self._estimate(chosen, op, prompt, inputs)
        limits = self._spend_limits(actor, where)
        await self._check_budgets(limits, reserve)  # again, atomically, when the job is recorded
        if open_session is not None:
            where = await open_session()
        with _storage_faults_answered(where):
            session = await self.store.images.session_for(where)
            uploaded = [await self._store_upload(session, actor, a, d) for a, d in uploads]
            mask_blob = await self.store.blobs.put(mask_png) if mask_png is not None else None
            job = Job(
                id=new_id(),
                session_id=session.id,
                where=where,
                requester=actor,
                spec=JobSpec(
                    operation=op,
                    prompt=prompt,
                    options=chosen,
                    sources=(*sources, *uploaded),
                    mask_blob=mask_blob,
                    zoom=zoom,
                    aspect=aspect,
                ),
                status=JobStatus.QUEUED,
                created_at=self.clock(),
                reserved_usd=reserve,
                intake_key=current_intake_key.get(),
            )
            position = await self.runner.submit(job, origin=origin, limits=limits)
            log.info("job %s [%s] queued: %s", job.id, where.platform, op.value)
            return _queued_reply(job, position)

    async def _job_of_this_request(self) -> Job | None:
        """The job already made for the request being handled, when it is handled again after
        a crash (see bot.intake): that job is answered instead of making a second one."""
        key = current_intake_key.get()
        earlier = await self.store.jobs.by_intake_key(key) if key is not None else None
        if earlier is not None:
            log.info(
                "job %s [%s]: its request was handled again; not repeated", earlier.id, earlier.where.platform
            )
        return earlier

    async def _store_upload(
        self, session: Session, actor: UserRef, attachment: Attachment, decoded: imaging.DecodedImage
    ) -> str:
        blob = await self.store.blobs.put(decoded.data)
        image = StoredImage(
            id=new_id(),
            session_id=session.id,
            blob=blob,
            mime=decoded.mime,
            width=decoded.width,
            height=decoded.height,
            operation=Operation.UPLOAD,
            prompt=attachment.filename,
            params={"filename": attachment.filename, "requester_name": actor.label},
            requester=actor.key,
            created_at=self.clock(),
        )
        await self.store.images.add_upload(image)
        return image.id

    def _check_channel(self, where: SessionKey) -> None:
        allowed = self.settings.imagebot_channels
        if allowed and where.platform != "console" and where.channel not in allowed:
            raise BotError(
                ErrorKind.FORBIDDEN,
                "imagebot is not enabled in this channel; an admin can add it to IMAGEBOT_CHANNELS.",
            )

    def _check_role(self, actor: UserRef, chosen: ImageOptions) -> None:
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

    def _check_may_press(self, actor: UserRef, requester: str) -> None:
        """The buttons setting: anyone may use them (default), or only who asked and admins."""
        if self.settings.imagebot_buttons == "requester" and actor.key != requester and not actor.is_admin:
            raise BotError(
                ErrorKind.FORBIDDEN,
                f"Only {requester.split(':', 1)[-1]} (who made this) or an admin can use these buttons here.",
            )

    async def _image(self, image_id: str, where: SessionKey) -> StoredImage:
        """An image of the workspace of `where`; any other id is 'not found'."""
        image = await self.store.images.image(image_id, within=where)
        if image is None:
            raise BotError(ErrorKind.NOT_FOUND, f"No image with id `{image_id}`.")
        return image

    async def _label(self, image: StoredImage) -> str:
        return str(image.params.get("requester_name") or image.requester.split(":", 1)[-1])

    def _describe_failure(self, job: Job, error: BotError) -> Reply:
        text = f"❌ Job `{job.id}` failed: {error.message}"
        buttons: tuple[Button, ...] = retry_buttons(job) if error.kind.retryable else ()
        return Reply(text=text, buttons=buttons, job_id=job.id, error_kind=error.kind.value)


_SCOPE_NAMES = {"me": "Your", "channel": "This channel's", "workspace": "This workspace's"}


def _queued_reply(job: Job, position: int) -> Reply:
    options = job.spec.options
    cost = f", up to ~${job.reserved_usd:.2f}" if job.reserved_usd >= 0.005 else ""
    where = "starting now" if position == 0 else f"#{position} in line"
    return Reply(
        text=f"⏳ Job `{job.id}`: {_count(options.n, 'image')}, {options.model}, {options.size}{cost} — {where}.",
        job_id=job.id,
        queue_position=position,
        buttons=(cancel_button(job),),
    )


def _qualities_of(model: str) -> frozenset[str] | None:
    info = model_info(model)
    return info.qualities if info else None


def _is_upscaled(image: StoredImage) -> bool:
    """An upscale, or an edit/zoom/reframe/cut-out of one (they keep its size)."""
    return image.operation is Operation.UPSCALE or bool(image.params.get("upscaled"))


@contextlib.contextmanager
def _storage_faults_answered(where: SessionKey) -> Iterator[None]:
    """A request that cannot be stored (full disk, locked database) is answered in plain
    words instead of crashing the adapter's handler; every other error passes through."""
    try:
        yield
    except Exception as exc:
        error = storage_error(exc)  # None for every other error, BotErrors included
        if error is None:
            raise
        log.warning("request [%s] could not be stored: %s", where.platform, exc)
        raise BotError(error.kind, error.message.replace("the result", "your request")) from exc


def _with_size_note(
    queued: Reply, filename: str, upload: imaging.DecodedImage, chosen: ImageOptions
) -> Reply:
    """Say so when the result cannot have the uploaded image's own size (the model's size rules)."""
    own = f"{upload.width}x{upload.height}"
    if queued.job_id is None or chosen.size in (own, "auto"):
        return queued
    note = (
        f"{display_text(filename, 60)} is {own}; {chosen.model} cannot make exactly that size,"
        f" so the result will be {chosen.size}."
    )
    return dataclasses.replace(queued, text=f"{queued.text}\n{note}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _trim(text: str, limit: int) -> str:
    return display_text(text, limit)


__all__ = ["ImageBot", "image_buttons", "new_id"]
