"""`Warning` response headers as kube-apiserver writes them: `299 - "text"` with `"` and `\\`
escaped (apimachinery util/net `NewWarningHeader`), one header per distinct text, and past 4 Ki
runes in all every text cut to 256 runes and the rest dropped (endpoints/filters/warning.go).
A text with control characters is not sent, as NewWarningHeader refuses it."""

from __future__ import annotations

import unicodedata

TRUNCATE_AT_TOTAL_RUNES = 4 * 1024
TRUNCATE_ITEM_RUNES = 256


def _header(text: str) -> str | None:
    if any(unicodedata.category(c) == "Cc" for c in text):
        return None
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def warning_headers(warnings: list[str]) -> list[tuple[str, str]] | None:
    """The (name, value) headers for the warnings a request collected, in order (None: no
    warning); aiohttp takes such a list where one name repeats."""
    if not warnings:
        return None
    headers: list[tuple[str, str]] = []
    ordered: list[str] = []
    written = 0
    truncating = False
    for text in dict.fromkeys(warnings):  # recorder.AddWarning, one call per text
        if not text or (truncating and written >= TRUNCATE_AT_TOTAL_RUNES):
            continue
        ordered.append(text)
        runes = len(text)
        if truncating and runes > TRUNCATE_ITEM_RUNES:
            text, runes = text[:TRUNCATE_ITEM_RUNES], TRUNCATE_ITEM_RUNES
        header = _header(text)
        if header is None:
            continue
        if written + runes <= TRUNCATE_AT_TOTAL_RUNES or truncating:
            written += runes
            headers.append(("Warning", header))
            continue
        truncating, written = True, 0
        headers = []
        for earlier in ordered:
            cut = earlier[:TRUNCATE_ITEM_RUNES]
            again = _header(cut)
            if again is not None:
                written += len(cut)
                headers.append(("Warning", again))
    return headers or None
