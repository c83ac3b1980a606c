"""New images from words or uploads: /imagine, /edit of an upload, "Vary image", and edits of a
stored image (a thread reply, the Edit… form)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot import exact_text, imaging, options
from bot.answers import Outcome
from bot.choosing import OptionChooser
from bot.comparing import compare_parts
from bot.directives import Directives, split_directives
from bot.domain import Attachment, JobPart, Operation, OptionOverrides, SessionKey, StoredImage, UserRef
from bot.errors import invalid
from bot.parts import set_options
from bot.preferences import layered
from bot.style_apply import check_inputs, styled_prompt
from bot.style_records import Style
from bot.styles import Styles
from bot.submission import OpenSession, Request, Submitter, decode_all, size_note
from bot.template_desk import TemplateDesk
from bot.templates import Filled

NO_OVERRIDES = OptionOverrides()


class Generating:
    def __init__(
        self, chooser: OptionChooser, submitter: Submitter, templates: TemplateDesk, styles: Styles
    ) -> None:
        self.chooser = chooser
        self.submitter = submitter
        self.templates = templates
        self.styles = styles

    async def imagine(
        self,
        actor: UserRef,
        where: SessionKey,
        text: str,
        overrides: OptionOverrides = NO_OVERRIDES,
        references: Sequence[Attachment] = (),
        open_session: OpenSession | None = None,
        note: str | None = None,
        origin: str | None = None,
    ) -> Outcome:
        """/imagine: N new images from a prompt (with optional reference images).

        `open_session`, when given, is called once the request is valid and accepted, and returns
        the thread that becomes the session (e.g. a thread created under the acknowledgement), so
        a refused request never leaves an empty thread behind. `note` is said under the queued
        line (/build shows the prompt it composed there). `origin`: the button that asked (a
        describe suggestion), so a second press finds the job."""
        rest, asked = split_directives(text)
        prompt, flags = options.split_flags(rest)
        typed = flags.merged_over(overrides)
        if asked.template is not None:
            filled = await self.templates.fill(actor, where, asked, prompt)
            typed = layered(typed, filled.flags)
            if filled.is_pack:
                return await self._run_pack(actor, where, filled, typed, asked, references, open_session)
            prompt = filled.parts[0].prompt
        else:
            prompt = exact_text.with_texts(options.validate_prompt(prompt), asked.texts)
        picked = await self.styles.for_request(actor, where, asked.style, use_default=True)
        prompt = styled_prompt(prompt, picked.style)
        styled = picked.style.image_ids if picked.style else ()
        if asked.compare:
            if picked.style is not None and styled:
                raise invalid(
                    f"--compare works from a prompt alone, and style {picked.style.name} has reference"
                    " images: add --style none, or use a style of words only"
                )
            parts = await compare_parts(
                self.chooser, actor, where, prompt, typed, asked.compare, references=len(references)
            )
            return await self.imagine_parts(actor, where, parts, open_session)
        chosen = await self.chooser.for_new_request(actor, where, typed)
        refs = await decode_all(references)
        check_inputs(len(refs), picked.style)
        said = "\n".join(n for n in (note, picked.note) if n) or None
        request = Request(
            Operation.IMAGINE, prompt, chosen, uploads=refs, styled=styled, note=said, origin=origin
        )
        return await self.submitter.submit(actor, where, request, open_session)

    async def imagine_parts(
        self,
        actor: UserRef,
        where: SessionKey,
        parts: Sequence[JobPart],
        open_session: OpenSession | None = None,
        *,
        title: str | None = None,
    ) -> Outcome:
        """Several different requests (2-4 parts, one image each) made as one job and shown as one
        grid, each cell labelled with its part's label (a comparison, a template pack). `title`
        is the set's prompt in its caption: by default the parts' prompt when they share one."""
        prompts = list(dict.fromkeys(part.prompt for part in parts))
        shown = title or (prompts[0] if len(prompts) == 1 else " | ".join(prompts))
        request = Request(Operation.IMAGINE, shown, set_options(parts), parts=tuple(parts))
        return await self.submitter.submit(actor, where, request, open_session)

    async def _run_pack(
        self,
        actor: UserRef,
        where: SessionKey,
        filled: Filled,
        typed: OptionOverrides,
        asked: Directives,
        references: Sequence[Attachment],
        open_session: OpenSession | None,
    ) -> Outcome:
        """A template pack: one image per prompt, run as one job and shown as one labelled grid."""
        pack = f"template {filled.name} is a pack of {len(filled.parts)} prompts, one image each"
        if asked.compare:
            raise invalid(f"{pack}: --compare works on one prompt, so use it with a single-prompt template")
        if typed.n is not None and typed.n != 1:
            raise invalid(f"{pack}: leave out --n")
        if references:
            raise invalid(f"{pack}: it takes no reference images")
        if asked.style is not None and asked.style.lower() != "none":
            raise invalid(f"{pack}: --style works on one prompt, so use it with a single-prompt template")
        chosen = await self.chooser.for_new_request(actor, where, dataclasses.replace(typed, n=1))
        parts = tuple(JobPart(part.prompt, chosen, part.label) for part in filled.parts)
        fills = ", ".join(asked.fills.values())
        title = f"template {filled.name}" + (f": {fills}" if fills else "")
        return await self.imagine_parts(actor, where, parts, open_session, title=title)

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
    ) -> Outcome:
        """/edit: start (or continue) a session from an uploaded image and edit it."""
        text, flags, style = await self._instruction(actor, where, instruction)
        decoded = await decode_all([image, *references])
        check_inputs(len(decoded), style)
        main = decoded[0][1]
        asked = flags.merged_over(overrides)
        chosen = self.chooser.resolve(asked, default_n=1, keep_size=(main.width, main.height))
        mask_png = None
        if mask is not None:
            mask_png = await imaging.offload(imaging.mask_from_upload, mask.data, main.width, main.height)
        sized = asked.size is not None or asked.aspect is not None
        note = None if sized else size_note(image.filename, main, chosen)
        styled = style.image_ids if style else ()
        request = Request(
            Operation.EDIT, text, chosen, uploads=decoded, styled=styled, mask_png=mask_png, note=note
        )
        return await self.submitter.submit(actor, where, request, open_session)

    async def vary_upload(
        self,
        actor: UserRef,
        where: SessionKey,
        image: Attachment,
        *,
        strong: bool = False,
        open_session: OpenSession | None = None,
    ) -> Outcome:
        """The "Vary image" menu on any message with an image: variations of that picture."""
        decoded = await decode_all([image])
        main = decoded[0][1]
        chosen = self.chooser.resolve(OptionOverrides(), keep_size=(main.width, main.height))
        op = Operation.VARY_STRONG if strong else Operation.VARY_SUBTLE
        prompt = f"the uploaded image {image.filename}"
        note = size_note(image.filename, main, chosen)
        request = Request(op, prompt, chosen, uploads=decoded, note=note)
        return await self.submitter.submit(actor, where, request, open_session)

    async def edit_image(
        self,
        actor: UserRef,
        where: SessionKey,
        image: StoredImage,
        instruction: str,
        attachments: Sequence[Attachment] = (),
    ) -> Outcome:
        """An instruction applied to a stored image (a thread reply, the Edit… form)."""
        text, flags, style = await self._instruction(actor, where, instruction)
        refs = await decode_all(attachments)
        check_inputs(1 + len(refs), style)
        # One rule for replies and buttons: the image's own model, quality, format and
        # background, unless the reply's flags say otherwise; the image's size.
        inherited = self.chooser.inherited(image)
        if flags.output_format and flags.background is None:
            inherited = dataclasses.replace(inherited, background=None)  # e.g. --format jpeg on a cut-out
        chosen = self.chooser.resolve(
            flags.merged_over(inherited), default_n=1, keep_size=(image.width, image.height)
        )
        styled = style.image_ids if style else ()
        request = Request(Operation.EDIT, text, chosen, sources=(image.id,), uploads=refs, styled=styled)
        return await self.submitter.submit(actor, where, request)

    async def _instruction(
        self, actor: UserRef, where: SessionKey, text: str
    ) -> tuple[str, OptionOverrides, Style | None]:
        """An edit's instruction, its image options, any --text it asks to render exactly, and
        the --style it asks for (an edit gets no default style: the image already has a look)."""
        rest, asked = split_directives(text)
        if asked.template:
            raise invalid("--template works in /imagine, not in edits: start a new image with it")
        if asked.compare:
            # An edit changes one image; comparing models is a fresh /imagine of the same prompt.
            raise invalid("--compare works with /imagine only: an edit changes this one image.")
        instruction, flags = options.split_flags(rest)
        instruction = options.validate_prompt(instruction, what="instruction")
        style = (await self.styles.for_request(actor, where, asked.style, use_default=False)).style
        return styled_prompt(exact_text.with_texts(instruction, asked.texts), style), flags, style
