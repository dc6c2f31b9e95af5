"""The registry of check kinds, filled by ``@register`` as modules load."""

from __future__ import annotations

from .base import CheckKind

KINDS: dict[str, CheckKind] = {}


def register(cls: type[CheckKind]) -> type[CheckKind]:
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a name")
    if cls.name in KINDS:
        raise TypeError(f"check kind '{cls.name}' is registered twice")
    KINDS[cls.name] = cls()
    return cls
