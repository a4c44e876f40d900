"""Content-addressed file store: one file per MD5 digest, written atomically.

A blob exists only once its whole body arrived and matched the expected digest, so an
interrupted upload leaves nothing behind: its scratch file (in ``.tmp``) is removed when
the upload fails, and one left by a process that died mid-upload is removed when a store
is next opened on the directory. An upload in progress holds a lock (``flock``) on its
scratch file, so a store opened by another process never removes it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import queue
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Protocol

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted there anyway
    fcntl = None  # type: ignore[assignment]

_CHUNK = 1 << 20


class Readable(Protocol):
    """A byte source: ``read(n)`` returns at most ``n`` bytes, ``b""`` at its end."""

    def read(self, size: int, /) -> bytes: ...


class DigestMismatchError(ValueError):
    """The uploaded bytes do not match the digest they were announced with."""


def b64_to_hex(digest_b64: str) -> str:
    """Convert a base64 MD5 (W&B's manifest format) to hex.

    >>> b64_to_hex("1B2M2Y8AsgTpgAmY7PhCfg==")
    'd41d8cd98f00b204e9800998ecf8427e'
    """
    return base64.b64decode(digest_b64).hex()


def hex_to_b64(digest_hex: str) -> str:
    """Convert a hex MD5 to base64."""
    return base64.b64encode(bytes.fromhex(digest_hex)).decode("ascii")


def is_md5_hex(value: str) -> bool:
    """Whether ``value`` looks like a hex MD5 digest."""
    if len(value) != 32:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


class _Writer:
    """Writes chunks to ``out`` in a thread of its own, so receiving and hashing the next
    chunk overlaps writing this one (``hashlib`` and file writes release the GIL). At most
    ``depth`` chunks wait; an error of the writer is raised by the next ``write`` or at exit.
    """

    def __init__(self, out: BinaryIO, depth: int = 4) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="blob-writer", daemon=True)

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._out.write(chunk)
                except BaseException as exc:  # reported to the caller's thread
                    self._error = exc

    def write(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def __enter__(self) -> _Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error


class BlobStore:
    """Blobs under ``root/<2 hex>/<md5 hex>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = root / ".tmp"
        self._tmp.mkdir(exist_ok=True)
        self.remove_abandoned_uploads()

    def remove_abandoned_uploads(self) -> int:
        """Delete scratch files no upload is writing any more (left by a process killed
        mid-upload); returns how many. Uploads in progress, in this process or another
        one sharing the directory, hold a lock on theirs and are left alone."""
        removed = 0
        for path in self._tmp.iterdir():
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:  # gone meanwhile (its upload finished), or not a file
                continue
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:  # an upload is writing it
                        continue
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
            finally:
                os.close(fd)
        return removed

    def _scratch_file(self) -> tuple[BinaryIO, Path]:
        """A new scratch file in ``.tmp``, locked for the caller (see
        :meth:`remove_abandoned_uploads`): open for writing, and its path."""
        while True:
            fd, name = tempfile.mkstemp(dir=self._tmp)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:  # removed as abandoned before the lock was taken: take another
                    if os.stat(name).st_ino != os.fstat(fd).st_ino:
                        raise FileNotFoundError(name)
                except FileNotFoundError:
                    os.close(fd)
                    continue
            return os.fdopen(fd, "wb"), Path(name)

    def path(self, md5_hex: str) -> Path:
        """Where the blob with this digest lives (it may not exist)."""
        md5_hex = md5_hex.lower()
        return self.root / md5_hex[:2] / md5_hex

    def exists(self, md5_hex: str) -> bool:
        """Whether the blob is stored."""
        return is_md5_hex(md5_hex) and self.path(md5_hex).is_file()

    def put_stream(self, stream: Readable, length: int | None, expected_md5_hex: str | None) -> str:
        """Store the bytes read from ``stream`` (``length`` of them, or all until it ends
        when ``None``), hashing while streaming; returns their MD5 hex.

        Memory stays at one chunk whatever the size. Raises ``DigestMismatchError``
        (nothing stored) if ``expected_md5_hex`` is given and differs, and
        ``ConnectionError`` if the stream ends before ``length`` bytes (or whatever the
        stream raises, e.g. a truncated request body); a partial body is never stored.
        """
        out, tmp = self._scratch_file()
        stored = False
        try:
            md5 = hashlib.md5()
            received = 0
            with _Writer(out) as writer:
                while length is None or received < length:
                    want = _CHUNK if length is None else min(_CHUNK, length - received)
                    chunk = stream.read(want)
                    if not chunk:
                        if length is None:
                            break
                        raise ConnectionError(f"upload ended after {received} bytes")
                    writer.write(chunk)  # written by another thread while this one hashes
                    md5.update(chunk)
                    received += len(chunk)
            digest = md5.hexdigest()
            if expected_md5_hex is not None and digest != expected_md5_hex.lower():
                raise DigestMismatchError(
                    f"content MD5 {digest} does not match expected {expected_md5_hex}"
                )
            out.flush()
            final = self.path(digest)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)  # still locked: no other store can remove it first
            stored = True
            return digest
        finally:
            if not stored:  # failed: the scratch file goes (its name may be reused later)
                tmp.unlink(missing_ok=True)
            out.close()

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its MD5 hex."""
        import io

        return self.put_stream(io.BytesIO(data), len(data), None)
