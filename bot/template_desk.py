"""The `template` command (save, list, show, rename, delete) and `--template NAME` in /imagine.

A name is looked up on the person's own shelf first, then the workspace's, then the starter
library (bot.starter_templates): a saved template of a starter's name is used instead of it.
Workspace templates are changed by admins only. Everything is checked before anything is
stored, and each change is one statement, so a refused command stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.answers import Notice, Outcome
from bot.directives import Directives, check_name, closest_names
from bot.domain import OptionOverrides, SessionKey, UserRef
from bot.errors import BotError, ErrorKind, invalid
from bot.ports import TemplateRepository
from bot.starter_templates import STARTERS, starter
from bot.templates import Filled, Shelf, Template, fill, options_text, parse_template, usage
from bot.text import display_text

ACTIONS = ("list", "show", "save", "rename", "delete")
SHELF_MAX = 100  # saved templates per shelf: a list people can still read
LISTED_MAX = 12  # per section of `template list`
LIST_CHARS = 1900  # the whole list fits one chat message (Discord's limit is 2000)
_WHOSE = {"personal": "yours", "workspace": "the workspace's", "starter": "built in"}


class TemplateDesk:
    def __init__(self, repo: TemplateRepository, check: Callable[[OptionOverrides], object]) -> None:
        self.repo = repo
        self.check = check  # resolves options, raising on what every use of the template would fail on

    # --- the command ------------------------------------------------------------------------------
    async def command(
        self, actor: UserRef, where: SessionKey, action: str, words: str, *, workspace: bool = False
    ) -> Outcome:
        """`template <action> …`; `words` are the action's arguments (name, then the rest)."""
        action = action.lower() or "list"
        name, _, rest = words.strip().partition(" ")
        if action == "list":
            return Notice(await self.listing(actor, where))
        if action not in ACTIONS:
            raise invalid(f"template {action!r}? Use one of: {', '.join(ACTIONS)}")
        if not name:
            raise invalid(f"template {action} needs a template name, e.g. `template {action} poster`")
        check_name(name, "template")
        if action == "show":
            return Notice(self.described(await self.find(actor, where, name)))
        shelf = self._shelf(actor, where, workspace)
        if action == "save":
            return Notice(await self.save(actor, shelf, name, rest))
        if action == "rename":
            return Notice(await self.rename(shelf, name, rest.strip()))
        return Notice(await self.delete(shelf, name))

    def _shelf(self, actor: UserRef, where: SessionKey, workspace: bool) -> Shelf:
        if not workspace:
            return Shelf(where.platform, where.workspace, actor.key)
        if not actor.is_admin:
            raise BotError(ErrorKind.FORBIDDEN, "Only admins can change the workspace's templates.")
        return Shelf(where.platform, where.workspace)

    async def save(self, actor: UserRef, shelf: Shelf, name: str, text: str) -> str:
        if not text.strip():
            raise invalid(
                f"template save {name} needs the prompt, e.g. `template save {name} a poster for {{event}}"
                " with the title {title:text} --ar 2:3`"
            )
        body = parse_template(text)
        self.check(body.flags)
        if len(await self.repo.on_shelves([shelf])) >= SHELF_MAX:
            raise invalid(
                f"{_WHOSE[shelf.scope].capitalize()} templates number {SHELF_MAX}: delete one first"
            )
        template = Template(name, body, shelf.scope, actor.key)
        if not await self.repo.add(shelf, template):
            raise invalid(
                f"There is already a template named {name} ({_WHOSE[shelf.scope]}): delete it first,"
                " or choose another name"
            )
        shadows = " (used instead of the starter template of that name)" if starter(name) else ""
        return f"Saved template {name}, {_WHOSE[shelf.scope]}{shadows}. Use it: `/imagine {usage(template)}`"

    async def rename(self, shelf: Shelf, old: str, new: str) -> str:
        if not new or " " in new:
            raise invalid(
                f"template rename needs the old and the new name, e.g. `template rename {old} new-name`"
            )
        check_name(new, "template")
        done = await self.repo.rename(shelf, old, new)
        if done == "missing":
            raise await self._not_found(shelf, old)
        if done == "taken":
            raise invalid(
                f"There is already a template named {new} ({_WHOSE[shelf.scope]}): pick another name"
            )
        return f"Template {old} is now {new}."

    async def delete(self, shelf: Shelf, name: str) -> str:
        if not await self.repo.delete(shelf, name):
            raise await self._not_found(shelf, name)
        back = " The starter template of that name applies again." if starter(name) else ""
        return f"Deleted template {name} ({_WHOSE[shelf.scope]}).{back}"

    async def _not_found(self, shelf: Shelf, name: str) -> BotError:
        if starter(name):
            return invalid(
                f"{name} is a starter template: built in, it cannot be changed (save your own copy)"
            )
        if shelf.owner and await self.repo.get(Shelf(shelf.platform, shelf.workspace), name) is not None:
            return invalid(f"{name} is the workspace's template: admins change it with --workspace")
        names = [t.name for t in await self.repo.on_shelves([shelf])]
        return BotError(
            ErrorKind.NOT_FOUND, f"No template {name} among {_WHOSE[shelf.scope]}.{_closest(name, names)}"
        )

    # --- finding and showing ----------------------------------------------------------------------
    async def find(self, actor: UserRef, where: SessionKey, name: str) -> Template:
        """The template `name` means here: mine, else the workspace's, else a starter."""
        for shelf in self._shelves(actor, where):
            found = await self.repo.get(shelf, name)
            if found is not None:
                return found
        built_in = starter(name)
        if built_in is not None:
            return built_in
        names = [t.name for t in await self.repo.on_shelves(self._shelves(actor, where))]
        names += [t.name for t in STARTERS]
        raise BotError(ErrorKind.NOT_FOUND, f"There is no template {name} here.{_closest(name, names)}")

    def _shelves(self, actor: UserRef, where: SessionKey) -> list[Shelf]:
        return [Shelf(where.platform, where.workspace, actor.key), Shelf(where.platform, where.workspace)]

    async def listing(self, actor: UserRef, where: SessionKey) -> str:
        saved = await self.repo.on_shelves(self._shelves(actor, where))
        taken = {t.name.lower() for t in saved}
        lines: list[str] = []
        for title, templates in (
            ("Your templates", [t for t in saved if t.scope == "personal"]),
            ("Workspace templates", [t for t in saved if t.scope == "workspace"]),
        ):
            lines.append(f"**{title}**" + ("" if templates else ": none yet"))
            lines.extend(_listed(templates, set()))
        lines.append("**Starter templates** (built in; a saved one of the same name is used instead)")
        lines.extend(_listed(STARTERS, taken))
        footer = (
            'Use one: `/imagine --template NAME key="value"`. `template show NAME` shows it;'
            " `template save NAME PROMPT` saves yours (admins: add --workspace)."
        )
        return _fitted(lines, footer)

    def described(self, template: Template) -> str:
        body = template.body
        head = f"Template {template.name} ({_WHOSE[template.scope]})"
        if body.is_pack:
            lines = [f"{head}: a pack of {len(body.parts)} prompts, one image each"]
            lines += [
                f"• {display_text(p.label or f'#{i}', 40)}: {display_text(p.prompt, 300)}"
                for i, p in enumerate(body.parts, 1)
            ]
        else:
            lines = [f"{head}: {display_text(body.parts[0].prompt, 600)}"]
        if options_text(body.flags):
            lines.append(f"Options: {options_text(body.flags)} (what you type wins)")
        lines.append(f"Use it: `/imagine {usage(template)}`")
        return "\n".join(lines)

    # --- using ------------------------------------------------------------------------------------
    async def fill(self, actor: UserRef, where: SessionKey, asked: Directives, extra: str) -> Filled:
        """`--template NAME key="value"…` filled: one prompt per part, with `extra` (the words
        typed beside it) and the typed --text pieces."""
        if asked.template is None:
            raise invalid("no --template was given")
        template = await self.find(actor, where, asked.template)
        return fill(template, asked.fills, extra, asked.texts)


def _listed(templates: Sequence[Template], shadowed: set[str]) -> list[str]:
    lines = []
    for template in templates[:LISTED_MAX]:
        needs = ", ".join(f"{p.name}=" for p in template.body.placeholders) or "no fillings"
        pack = f" · pack of {len(template.body.parts)}" if template.body.is_pack else ""
        hidden = " (yours or the workspace's is used)" if template.name.lower() in shadowed else ""
        lines.append(f"• `{template.name}` — {needs}{pack}{hidden}")
    if len(templates) > LISTED_MAX:
        lines.append(f"• … and {len(templates) - LISTED_MAX} more")
    return lines


def _fitted(lines: list[str], footer: str) -> str:
    """The lines that fit one message with the footer, and a note when some did not."""
    kept: list[str] = []
    room = LIST_CHARS - len(footer) - 60
    for line in lines:
        room -= len(line) + 1
        if room < 0:
            kept.append("• … more than fit here: `template show NAME` shows any of them")
            break
        kept.append(line)
    return "\n".join([*kept, footer])


def _closest(name: str, names: Sequence[str]) -> str:
    close = closest_names(name, names, cutoff=0.5)
    return f" Did you mean {', '.join(close)}?" if close else " `template list` shows them."
