"""Turn an uploaded file name into a safe display name. It is only ever
shown (escaped) in pages and JSON, never used as a path."""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 120


def display_name(raw: str | None) -> str:
    """Last path component, NFC-normalised, without control, format
    (bidi overrides, zero-width) or separator characters, at most 120 chars."""
    text = unicodedata.normalize("NFC", raw or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "C":  # Cc control, Cf format (RTL override), Cs, Co, Cn
            continue
        kept.append(" " if category[0] == "Z" else char)
    name = " ".join("".join(kept).split()).strip(". ")
    if len(name) > MAX_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 8:
            name = stem[: MAX_LENGTH - len(ext) - 2] + "…." + ext
        else:
            name = name[: MAX_LENGTH - 1] + "…"
    return name or "photo"
