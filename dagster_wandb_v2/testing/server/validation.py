"""Checks on user-chosen names, with W&B's rules and wording."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import PurePosixPath, PureWindowsPath

MAX_NAME_LENGTH = 128
MAX_ALIAS_LENGTH = 128

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_VERSION_RE = re.compile(r"^v\d+$")
_TAG_RE = re.compile(r"^[-\w]+( +[-\w]+)*$")  # the wandb SDK's ``TAG_REGEX``


class UserInputError(ValueError):
    """A request W&B would refuse; reported as a GraphQL error."""


def check_artifact_name(name: str) -> None:
    """Refuse collection names W&B refuses.

    >>> check_artifact_name("my-model_1.0")
    >>> check_artifact_name("a/b")
    Traceback (most recent call last):
    ...
    dagster_wandb_v2.testing.server.validation.UserInputError: Invalid artifact name 'a/b': ...
    """
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME_RE.match(name):
        raise UserInputError(
            f"Invalid artifact name {name!r}: names must be 1-{MAX_NAME_LENGTH} characters "
            "and may only contain alphanumeric characters, dashes, underscores, and dots"
        )


def check_alias(alias: str) -> None:
    """Refuse aliases W&B refuses (``/``, ``:``, too long).

    A version-like alias (``v3``) is not refused: W&B ignores it ("Alias limits" in the
    W&B docs), see :func:`is_version_alias`.
    """
    if not alias or len(alias) > MAX_ALIAS_LENGTH:
        raise UserInputError(
            f"Invalid alias {alias!r}: aliases must be 1-{MAX_ALIAS_LENGTH} characters"
        )
    if "/" in alias or ":" in alias:
        raise UserInputError(
            f"Invalid alias {alias!r}: aliases cannot contain the characters '/' or ':'"
        )


def is_version_alias(alias: str) -> bool:
    """Whether ``alias`` looks like a version (``v<number>``): W&B manages those itself and
    ignores one given as an alias instead of returning an error.

    >>> is_version_alias("v3"), is_version_alias("v3-rc")
    (True, False)
    """
    return bool(_VERSION_RE.match(alias))


def check_type_name(name: str) -> None:
    """Refuse artifact type names W&B refuses."""
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME_RE.match(name):
        raise UserInputError(
            f"Invalid artifact type {name!r}: types may only contain alphanumeric "
            "characters, dashes, underscores, and dots"
        )


def check_tag(tag: str) -> None:
    """Refuse artifact and collection tags W&B refuses.

    >>> check_tag("large model")
    >>> check_tag("a/b")
    Traceback (most recent call last):
    ...
    dagster_wandb_v2.testing.server.validation.UserInputError: Invalid tag 'a/b': ...
    """
    if not isinstance(tag, str) or not _TAG_RE.match(tag) or len(tag) > MAX_NAME_LENGTH:
        raise UserInputError(
            f"Invalid tag {tag!r}: tags must only contain alphanumeric characters "
            "separated by hyphens, underscores, and/or spaces"
        )


_NATURAL_RE = re.compile(r"[0-9]{1,18}")


def natural_number(text: str) -> int | None:
    """``text`` as a number when it is 1-18 ASCII digits (fits SQLite's 64-bit integers),
    else ``None``; unlike ``str.isdigit`` + ``int``, never raises on client input
    (``"²"``, ``"٣"``, 5000 digits).

    >>> natural_number("42"), natural_number("²"), natural_number("-1"), natural_number("9" * 19)
    (42, None, None, None)
    """
    return int(text) if _NATURAL_RE.fullmatch(text) else None


def check_manifest_entry(path: str, entry: object) -> None:
    """Refuse a W&B manifest entry (``contents[path]``) the server could not serve: not a
    map, ``size`` not a whole number of bytes, ``ref`` not a string, or, for a stored file
    (no ``ref``), ``digest`` not a base64 MD5 (W&B's manifest v1 format).

    >>> check_manifest_entry("a.txt", {"digest": "1B2M2Y8AsgTpgAmY7PhCfg==", "size": 0})
    >>> check_manifest_entry("a.txt", {"digest": "x", "size": "big"})
    Traceback (most recent call last):
    ...
    dagster_wandb_v2.testing.server.validation.UserInputError: manifest entry 'a.txt': ...
    """
    where = f"manifest entry {path[:200]!r}"
    if not isinstance(entry, dict):
        raise UserInputError(f"{where}: must be a map of fields")
    size = entry.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise UserInputError(f"{where}: 'size' must be a whole number of bytes")
    ref = entry.get("ref")
    if ref is not None and not isinstance(ref, str):
        raise UserInputError(f"{where}: 'ref' must be a string")
    digest = entry.get("digest")
    if ref:
        if digest is not None and not isinstance(digest, str):
            raise UserInputError(f"{where}: 'digest' must be a string")
        return
    if not isinstance(digest, str) or not _is_b64_md5(digest):
        raise UserInputError(f"{where}: 'digest' must be the file's base64 MD5")


def _is_b64_md5(value: str) -> bool:
    try:
        return len(base64.b64decode(value.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeError, ValueError):
        return False


def check_entry_path(path: object, what: str = "artifact entry") -> None:
    """Refuse a file path W&B's SDK refuses: empty, absolute (POSIX or Windows, e.g.
    ``/tmp/x``, ``C:\\x``) or climbing out with ``..`` (``../../x``).

    The rule is the wandb SDK's ``validate_relpath`` (``wandb/sdk/lib/paths.py``), which
    it applies to artifact entries and run files at download; refusing such a path when
    it is stored keeps a version from being committed that no client could download.

    >>> check_entry_path("data/train.csv")
    >>> check_entry_path("../../x")
    Traceback (most recent call last):
    ...
    dagster_wandb_v2.testing.server.validation.UserInputError: Invalid artifact entry ...
    """
    if not isinstance(path, str) or "\x00" in path:
        raise UserInputError(f"Invalid {what} path {path!r}: paths must be text")
    posix, windows = PurePosixPath(path), PureWindowsPath(path)
    if (
        str(posix) == "."
        or posix.anchor
        or ".." in posix.parts
        or windows.anchor
        or ".." in windows.parts
    ):
        raise UserInputError(
            f"Invalid {what} path {path!r}: paths must be relative, non-empty and must "
            "not contain '..'"
        )
