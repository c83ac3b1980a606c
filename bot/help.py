"""The help text that is the same everywhere: options, refining, prompt tips.

The command list above it is generated from the command registry (`bot.commands.help_text`),
spelled the way the asking platform spells commands.
"""

OPTIONS = """\
**Options** (fields, or flags in the prompt)
`--ar 16:9` or `--size 1536x864` · `--n 1..10` · `--quality low|medium|high|auto` · `--model`
· `--format png|webp|jpeg` · `--background transparent|opaque|auto` · `--compression 0..100`
· `--text "WORDS"` (in the image exactly as typed; repeatable)
· `--compare gpt-image-2,gpt-image-2.5-flare` (one image per model, side by side, labelled)
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
• Text in the image: `--text "SALE 50%"` (repeatable) asks for it letter for letter.
• One change per turn ("change only the sky to a storm; keep everything else").
• To keep a face or product, say so ("keep the face and pose, change the background")."""
