"""A stored artifact file received as one stream: written, hashed and (optionally) loaded
while it arrives.

The wandb SDK's ``ArtifactManifestEntry.download`` needs the manifest (a query and a
download), fetches an entry in 16 KiB pieces into its own file cache and copies it out;
the cache then reads the copy again to check W&B's MD5, and the payload is unpickled from
it afterwards. Here the bytes of one HTTP response
(:meth:`~dagster_wandb_v2.client.ArtifactReader.open_file`) go once into the cache's
staging file, while a second thread computes their MD5 (``hashlib`` releases the GIL for
large buffers), so a transfer costs about the longer of receiving and hashing, not their
sum. With ``load``, the payload is unpickled from the same bytes as they arrive.

Unpickling before the MD5 is known runs the pickle of bytes not yet checked: the object
is handed out only once they matched W&B's manifest (otherwise it is dropped and the
mismatch raised), but code the pickle runs while loading has run. W&B's MD5 guards
against damaged transfers, not against a changed payload: that is what a signing key is
for, and a signed payload is always verified before it is unpickled (see :mod:`.read`).

Example::

    [file] = reader.stored_files(artifact, ["output.pickle"])
    received = receive(reader.open_file(file), target, pickle.load)
    received.md5, received.value
"""

from __future__ import annotations

import base64
import hashlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dagster_wandb_v2.client import EntryStream

UNPICKLE_WHILE_RECEIVING_MIN_BYTES = 32 << 20
"""Unsigned pickle-family payloads from this size (bytes) are unpickled while they arrive;
smaller ones from the cached file once their MD5 matched W&B's."""
CHUNK_BYTES = 4 << 20
"""How much is asked of the HTTP response at a time."""
_HASH_QUEUE_CHUNKS = 8
"""Chunks received but not hashed yet, at most (bounds the memory a slow hash holds)."""


class StreamInterruptedError(OSError):
    """The stream of an entry failed before its end (the connection dropped, a timeout)."""


@dataclass(frozen=True)
class Received:
    """What :func:`receive` wrote: its base64 MD5 (W&B's digest form), its size in bytes,
    and the value ``load`` returned (``None`` without ``load``); ``load_error``: what
    ``load`` raised, if it did (the bytes were still received whole and hashed)."""

    md5: str
    size: int
    value: Any = None
    load_error: BaseException | None = None


class _Hasher:
    """MD5 of chunks handed over one by one, computed on its own thread."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_HASH_QUEUE_CHUNKS)
        self._thread = threading.Thread(target=self._run, name="entry-md5", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._md5.update(chunk)

    def add(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def digest(self) -> str:
        """The base64 MD5 of every chunk added (waits for the thread to finish)."""
        self._chunks.put(None)
        self._thread.join()
        return base64.b64encode(self._md5.digest()).decode()


class _Tee:
    """The bytes of ``stream`` as a binary file a loader reads (``read``, ``readinto``,
    ``readline``, ``peek``), each chunk also written to ``file`` and hashed as it arrives."""

    def __init__(self, stream: EntryStream, file: BinaryIO, hasher: _Hasher) -> None:
        self._stream = stream
        self._file = file
        self._hasher = hasher
        self._data = b""
        self._chunk = memoryview(self._data)
        self._offset = 0
        self.received = 0
        self.failure: BaseException | None = None
        self._ended = False

    def _next(self) -> bool:
        """Receive the next chunk; ``False`` at the end of the stream."""
        if self._ended:
            return False
        try:
            chunk = self._stream.read(CHUNK_BYTES)
        except Exception as error:
            self.failure = error
            raise StreamInterruptedError(
                f"the download stopped after {self.received} bytes: {error}"
            ) from error
        if not chunk:
            self._ended = True
            return False
        self._file.write(chunk)
        self._hasher.add(chunk)
        self.received += len(chunk)
        self._data, self._chunk, self._offset = chunk, memoryview(chunk), 0
        return True

    def _take(self, size: int) -> memoryview:
        """Up to ``size`` bytes of the current chunk (receiving one if it is used up)."""
        if self._offset == len(self._chunk) and not self._next():
            return memoryview(b"")
        taken = self._chunk[self._offset : self._offset + size]
        self._offset += len(taken)
        return taken

    def drain(self) -> None:
        """Receive (write and hash) the rest of the stream, unread."""
        while self._next():
            pass

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and (part := self._take(len(view) - filled)):
            view[filled : filled + len(part)] = part
            filled += len(part)
        return filled

    def read(self, size: int | None = -1) -> bytes:
        remaining = -1 if size is None or size < 0 else size
        parts = []
        while remaining and (part := self._take(CHUNK_BYTES if remaining < 0 else remaining)):
            parts.append(part)
            remaining = remaining - len(part) if remaining > 0 else remaining
        return b"".join(parts)

    def peek(self, size: int = 1) -> bytes:
        """Bytes ahead without consuming them (at most the current chunk's rest; ``b""``
        at the end). The C unpickler peeks to take opcodes in blocks, not byte by byte."""
        if self._offset == len(self._chunk):
            self._next()
        return self._chunk[self._offset : self._offset + max(size, 1)].tobytes()

    def readline(self, size: int = -1) -> bytes:
        parts = []
        while self._offset < len(self._chunk) or self._next():
            end = self._data.find(b"\n", self._offset)
            stop = len(self._data) if end < 0 else end + 1
            parts.append(self._chunk[self._offset : stop])
            self._offset = stop
            if end >= 0:
                break
        return b"".join(parts)


def receive(
    stream: EntryStream,
    target: Path,
    load: Callable[[Any], Any] | None = None,
) -> Received:
    """Write the whole of ``stream`` to ``target``, hashing it meanwhile; with ``load``,
    call ``load(file)`` on a binary file that yields the same bytes as they arrive.

    The stream is read to its end whatever ``load`` consumes or raises (its error is
    returned in :attr:`Received.load_error`: the caller decides once the MD5 is checked).
    Raises :class:`StreamInterruptedError` if the stream fails (``target`` is then
    incomplete: the caller discards it). ``stream`` is closed in any case.
    """
    hasher = _Hasher()
    value: Any = None
    load_error: BaseException | None = None
    try:
        with open(target, "wb") as file:
            tee = _Tee(stream, file, hasher)
            if load is not None:
                try:
                    value = load(tee)
                except Exception as error:
                    if tee.failure is not None:  # the transfer failed, not the loader
                        raise StreamInterruptedError(
                            f"the download stopped after {tee.received} bytes: {tee.failure}"
                        ) from tee.failure
                    load_error = error
            tee.drain()
    finally:
        md5 = hasher.digest()
        stream.close()
    return Received(md5, tee.received, value, load_error)
