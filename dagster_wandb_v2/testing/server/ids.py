"""Opaque GraphQL ids in W&B's style: base64 of ``"<Type>:<number>"``."""

from __future__ import annotations

import base64
import binascii

from .validation import natural_number


def encode_id(kind: str, pk: int) -> str:
    """Encode a row id.

    >>> encode_id("Artifact", 7)
    'QXJ0aWZhY3Q6Nw=='
    """
    return base64.b64encode(f"{kind}:{pk}".encode()).decode("ascii")


def decode_id(value: object, kind: str | None = None) -> int | None:
    """Decode an id made by :func:`encode_id` (or a bare number); ``None`` if malformed.

    With ``kind``, ids of another type decode to ``None``.

    >>> decode_id("QXJ0aWZhY3Q6Nw==", "Artifact")
    7
    >>> decode_id("QXJ0aWZhY3Q6Nw==", "Run") is None
    True
    """
    if value is None:
        return None
    text = str(value)
    if (number := natural_number(text)) is not None:
        return number
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    prefix, sep, digits = raw.rpartition(":")
    pk = natural_number(digits)
    if not sep or pk is None:
        return None
    if kind is not None and prefix != kind:
        return None
    return pk
