"""The /help text: how to use the bot, and how to write prompts that work."""

HELP_TEXT = """\
**imagebot: a shared image studio**

**Make images**
• `/imagine <prompt>` makes 4 images (a grid). Options as fields or flags in the prompt:
  `--ar 16:9` or `--size 1536x864` · `--n 1..10` · `--quality low|medium|high|auto`
  · `--model gpt-image-2` · `--format png|webp|jpeg` · `--background transparent|opaque|auto`
  · `--compression 0..100` (webp/jpeg)
• Sizes (gpt-image-2): width and height multiples of 16, ratio between 1:3 and 3:1, up to 3840x2160.
  `--ar W:H` gives a long edge of 1536 px (1:1 gives 1024x1024), e.g. 16:9 → 1536x864.
• `/edit` an uploaded photo with an instruction (and an optional mask: transparent = change here).

**Refine in the thread**
• Under a grid: **U1–U4** pick an image, **V1–V4** make variations of it, **🔄** rerolls.
• Under one image: Upscale, Vary (Subtle/Strong), Edit…, Zoom out 1.5×/2×, Make square,
  Remove background, Undo.
• Reply in the thread to edit the current image ("make the sky stormier"); attach images to use
  them as references ("put this logo on the bottle"). After a grid, start with `#2` to pick one.
• `undo` goes back one step; `/show <id>` brings back any earlier image or set; `/history` lists ids.

**Keep track**
• `/queue` shows what is running and where you stand; `/cancel [job]` cancels your job.
• `/usage` shows your images and estimated spend today and this month (admins: the team's).

**Prompt tips**
• Say the subject first, then the setting, lighting, style and camera ("a red fox in fresh snow,
  golden hour, shallow depth of field, 85 mm photo").
• For text in the image, put the exact words in quotes and keep them short (1–10 words).
• Edit one thing per turn ("change only the sky to a storm; keep everything else the same").
• To keep a face or product, say so: "keep the face and pose exactly, change the background".
"""
