"""File names that come with a paper: only plain relative paths are ever written to disk."""

from __future__ import annotations


def is_plain_relative(name: str) -> bool:
    """``data/table.csv`` yes; ``/etc/x``, ``../x``, ``a//b``, ``./x``, a NUL byte no."""
    return bool(name) and not name.startswith("/") and "\0" not in name and \
        all(part not in ("", ".", "..") for part in name.split("/"))


def plain_relative(name: str, whose: str = "a paper") -> str:
    """``name`` if :func:`is_plain_relative`, else ValueError saying so."""
    if not is_plain_relative(name):
        raise ValueError(f"file name {name!r} of {whose} is not a plain relative path")
    return name
