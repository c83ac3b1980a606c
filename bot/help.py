"""The help text: how to use the bot, and how to write prompts that work.

The command list is generated from the command registry (bot.commands), spelled the way the
asking platform spells commands (`/show` on Discord, `/imagebot show` on Slack, `show` in the
console); the rest is the same everywhere.
"""

from bot.commands import Surface

OPTIONS = """\
**Options** (fields, or flags in the prompt)
`--ar 16:9` or `--size 1536x864` · `--n 1..10` · `--quality low|medium|high|auto` · `--model`
· `--format png|webp|jpeg` · `--background transparent|opaque|auto` · `--compression 0..100`
Sizes (gpt-image-2): multiples of 16, ratio 1:3 to 3:1, up to 3840x2160. `--ar` gives a
1536 px long edge (16:9 → 1536x864; 1:1 → 1024x1024)."""

REFINING = """\
**Refine in the thread**
• Under a grid: U1–U4 pick one, V1–V4 make variations of it, 🔄 rerolls.
• Under one image: Upscale, Vary (Subtle/Strong), Edit…, Zoom out, Make square/16:9/9:16, Remove
  background, Undo.
• Reply in the thread to edit the current image; attached images are references. After a
  grid, start with `#2` to pick one. `undo` goes back one step."""

TIPS = """\
**Prompt tips**
• Subject first, then setting, lighting, style, camera ("a red fox in fresh snow, golden hour,
  85 mm photo").
• Text in the image: the exact words in quotes, 1–10 words.
• One change per turn ("change only the sky to a storm; keep everything else").
• To keep a face or product, say so ("keep the face and pose, change the background")."""


def commands_section(surface: Surface) -> str:
    """One line per command this surface offers, then the surface's own lines (mentions, words)."""
    lines = ["**Commands**"]
    for command in surface.commands():
        what = command.help or command.description[:1].lower() + command.description[1:]
        lines.append(f"• `{surface.usage(command)}` — {what.replace('{cmd}', surface.spell(command))}")
    lines.extend(f"• {line}" for line in surface.extra)
    return "\n".join(lines)


def help_text(surface: Surface) -> str:
    return "\n\n".join(
        ["**imagebot: a shared image studio**", commands_section(surface), OPTIONS, REFINING, TIPS]
    )
