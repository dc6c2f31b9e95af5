"""Names that look alike: the key two names share when a reader could take one for the other.

The key is the name after NFKC, with invisible formatting characters dropped, spaces collapsed,
case folded, and each confusable character replaced by its prototype (Unicode's confusable
skeleton, UTS #39, from the table confusable-homoglyphs ships). "Jane Doe" and "Jane Dοe" (a Greek
omicron) share a key; "Jane Doe" and "Jöne Doe" do not.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Sequence


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Each confusable character -> the prototype it is confused with (Unicode's confusables.txt, as
    confusable-homoglyphs ships it). Its table lists every prototype with the characters that look like
    it and each of those with its prototype, so each group is a star around one prototype; a group of
    two has no centre, and either one serves."""
    from confusable_homoglyphs.confusables import confusables_data

    def bare(text: str) -> str:          # the table wraps right-to-left characters in direction marks
        return "".join(ch for ch in text if unicodedata.category(ch) != "Cf") or text

    neighbours: dict[str, set[str]] = {}
    for char, homoglyphs in confusables_data.items():
        for homoglyph in homoglyphs:
            a, b = bare(char), bare(homoglyph["c"])
            if a != b:
                neighbours.setdefault(a, set()).add(b)
                neighbours.setdefault(b, set()).add(a)
    mapping: dict[str, str] = {}
    for node, others in neighbours.items():
        if len(node) != 1 or len(others) != 1:
            continue                      # a prototype (or a sequence) stays as it is
        (other,) = others
        if len(neighbours[other]) > 1:
            mapping[node] = other
        elif (not node.isascii(), len(node), node) > (not other.isascii(), len(other), other):
            mapping[node] = other         # a pair: both become the ASCII one, else the smaller
    return mapping


def skeleton(text: str) -> str:
    """UTS #39's skeleton: decomposed, ignorable characters dropped, each confusable character replaced by
    its prototype. Two strings with the same skeleton look alike."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(table.get(ch, ch) for ch in decomposed if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFD", mapped)


def lookalike_key(name: str) -> str:
    """What two names that look alike share: NFKC, invisible characters dropped, spaces collapsed,
    case folded, confusable characters replaced by their prototypes."""
    text = unicodedata.normalize("NFKC", name)
    text = " ".join("".join(ch for ch in text if unicodedata.category(ch) != "Cf").split())
    return skeleton(skeleton(text).casefold())


def odd_characters(name: str, others: Sequence[str]) -> list[str]:
    """The characters of ``name`` beyond ASCII that another name lacks, as 'U+03BF GREEK SMALL LETTER
    OMICRON': what makes names that print alike differ."""
    found = []
    for ch in dict.fromkeys(name):
        if not ch.isascii() and any(ch not in other for other in others):
            found.append(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}")
    return found

