"""Text that came from a submission, made safe to show: control and invisible formatting
characters removed, length capped. Every text a result or a page carries goes through here."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, and Unicode's invisible direction
# and formatting marks, which can make text display as something other than it is.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def clean_text(value: object, limit: int) -> str:
    """``value`` as printable text of at most about ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > 4 * limit:
        text = text[:4 * limit]             # the cut below needs the length after cleaning
    text = _UNSAFE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if len(text) > limit:
        text = text[:limit] + f" [... {len(text) - limit} more characters cut]"
    return text
