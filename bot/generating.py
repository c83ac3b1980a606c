"""New images from words or uploads: /imagine, /edit of an upload, "Vary image", and edits of a
stored image (a thread reply, the Edit… form)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot import exact_text, imaging, options
from bot.answers import Outcome
from bot.choosing import OptionChooser
from bot.directives import Directives, split_directives
from bot.domain import Attachment, Operation, OptionOverrides, SessionKey, StoredImage, UserRef
from bot.errors import invalid
from bot.style_apply import check_inputs, styled_prompt
from bot.style_records import Style
from bot.styles import Styles
from bot.submission import OpenSession, Request, Submitter, decode_all, size_note

NO_OVERRIDES = OptionOverrides()


class Generating:
    def __init__(self, chooser: OptionChooser, submitter: Submitter, styles: Styles) -> None:
        self.chooser = chooser
        self.submitter = submitter
        self.styles = styles

    async def imagine(
        self,
        actor: UserRef,
        where: SessionKey,
        text: str,
        overrides: OptionOverrides = NO_OVERRIDES,
        references: Sequence[Attachment] = (),
        open_session: OpenSession | None = None,
    ) -> Outcome:
        rest, asked = split_directives(text)
        _refuse_unavailable(asked)
        prompt, flags = options.split_flags(rest)
        prompt = options.validate_prompt(prompt)
        chosen = await self.chooser.for_new_request(actor, where, flags.merged_over(overrides))
        picked = await self.styles.for_request(actor, where, asked.style, use_default=True)
        prompt = exact_text.with_texts(styled_prompt(prompt, picked.style), asked.texts)
        refs = await decode_all(references)
        check_inputs(len(refs), picked.style)
        styled = picked.style.image_ids if picked.style else ()
        request = Request(Operation.IMAGINE, prompt, chosen, uploads=refs, styled=styled, note=picked.note)
        return await self.submitter.submit(actor, where, request, open_session)

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
        _refuse_unavailable(asked)
        instruction, flags = options.split_flags(rest)
        instruction = options.validate_prompt(instruction, what="instruction")
        style = (await self.styles.for_request(actor, where, asked.style, use_default=False)).style
        return exact_text.with_texts(styled_prompt(instruction, style), asked.texts), flags, style


def _refuse_unavailable(asked: Directives) -> None:
    for flag, given in (
        ("--template", asked.template),
        ("--compare", asked.compare),
    ):
        if given:
            raise invalid(f"{flag} is not available in this version")
