"""The local server's secrets: the API key it accepts and the key signing its URLs.

Unless given, each is generated on first use and kept in the data directory (a file only
its owner can read), so a server restarted on the same directory, or several processes
sharing it, accept the same API key and each other's signed URLs, and nothing in this
package's source grants access. The command line takes the API key from
:data:`API_KEY_VARIABLE` (an environment variable, which other users cannot read, unlike
a command line shown in the process list).

Example::

    key = data_dir_api_key(Path("./wandb-local"))   # "local-" + 48 hex digits
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

#: Environment variable the command line (and :class:`SubprocessServer`) reads the API key
#: from. Not ``WANDB_API_KEY``: that one usually holds the user's own W&B key, which a
#: test server must neither adopt nor print.
API_KEY_VARIABLE = "DAGSTER_WANDB_LOCAL_SERVER_API_KEY"

#: Files in the data directory holding the generated secrets.
API_KEY_FILE = "api-key"
SIGNING_KEY_FILE = "url-signing-key"


def generate_api_key() -> str:
    """A new random API key: ``local-`` plus 48 hex digits (192 bits), a form every wandb
    SDK from 0.29 on accepts (an on-prem key: a prefix, then 40+ word characters).

    >>> key = generate_api_key()
    >>> key.startswith("local-"), len(key)
    (True, 54)
    """
    return "local-" + secrets.token_hex(24)


def stored_secret(data_dir: Path, name: str, make: Callable[[], str]) -> str:
    """The secret in ``data_dir/name``, made with ``make()`` and stored (mode 0600) the
    first time. Safe when several processes start on one directory at once: the first
    to store its secret wins, the others read it."""
    path = data_dir / name
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    scratch = data_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(make())
        with contextlib.suppress(FileExistsError):  # another process stored one first
            os.link(scratch, path)  # appears complete, or not at all
    finally:
        scratch.unlink(missing_ok=True)
    return _read(path)


def data_dir_api_key(data_dir: Path) -> str:
    """The API key generated for ``data_dir`` (see :func:`stored_secret`)."""
    return stored_secret(data_dir, API_KEY_FILE, generate_api_key)


def data_dir_signing_key(data_dir: Path) -> bytes:
    """The key signing the URLs a server on ``data_dir`` hands out."""
    return stored_secret(data_dir, SIGNING_KEY_FILE, lambda: secrets.token_hex(32)).encode()


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"{path} is empty: delete it to have a new secret generated")
    return value
