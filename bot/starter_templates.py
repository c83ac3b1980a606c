"""The starter library: templates every workspace has from the first day, drawn from the briefs
creative teams write most (catalogue shots, lifestyle, portraits, interiors, social posts,
posters, a logo on a product).

They are built in and read-only. A template saved with the same name (personal or
workspace-wide) is used instead, so a team can make `poster` its own; deleting that brings the
starter back.
"""

from __future__ import annotations

from bot.templates import Template, parse_template

_STARTERS = (
    (
        "product-white",
        "a studio product photo of {product} on a seamless pure white background, soft even lighting,"
        " a gentle contact shadow, crisp focus on every detail, e-commerce catalogue style --ar 1:1",
    ),
    (
        "product-lifestyle",
        "a lifestyle photo of {product} in use in {setting}, natural window light, shallow depth of"
        " field, warm authentic mood, the product clearly the hero of the frame --ar 3:2",
    ),
    (
        "editorial-portrait",
        "an editorial magazine portrait of {subject}, soft directional key light, muted colour"
        " palette, 85mm lens look, natural skin texture, calm confident expression --ar 2:3",
    ),
    (
        "interior",
        "an architectural interior photo of {room} in {style} style, wide angle at eye level,"
        " bright natural daylight, straight verticals, tidy styled details --ar 3:2",
    ),
    (
        "social-post",
        "a bold social media post about {topic}, the headline {headline:text} in large clean"
        " sans-serif type with generous margins, simple graphic background, high contrast --ar 1:1",
    ),
    (
        "poster",
        "a striking poster for {event}, the title {title:text} in big bold lettering at the top,"
        " one strong central image, limited colour palette, print-ready layout --ar 2:3",
    ),
    (
        "logo-on-product",
        "a realistic product photo of {product} bearing the logo {brand:text}, printed cleanly on"
        " its surface and following its shape and material, studio lighting --ar 1:1",
    ),
    (
        "product-pack",
        "white: {product} on a seamless pure white background, soft even studio lighting"
        " || lifestyle: {product} in use in a real everyday setting, natural light"
        " || context: {product} among the things it is used with, styled flat lay from above",
    ),
)

STARTERS: tuple[Template, ...] = tuple(
    Template(name, parse_template(text), "starter") for name, text in _STARTERS
)


def starter(name: str) -> Template | None:
    key = name.lower()
    return next((t for t in STARTERS if t.name == key), None)
