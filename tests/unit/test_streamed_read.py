"""An entry received as one stream: written whole, hashed on the way, loaded as it arrives."""

from __future__ import annotations

import base64
import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dagster_wandb_v2.streamed_read import CHUNK_BYTES, StreamInterruptedError, receive


def md5_of(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content).digest()).decode()


class Stream(io.BytesIO):
    """An HTTP body: ``content``, failing after ``fail_after`` bytes if set."""

    def __init__(self, content: bytes, fail_after: int | None = None) -> None:
        super().__init__(content)
        self.fail_after = fail_after
        self.was_closed = False

    def read(self, size: int | None = -1) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(size)

    def close(self) -> None:
        self.was_closed = True
        super().close()


VALUES: list[Any] = [
    {"rows": list(range(1000)), "name": "small"},
    np.arange(3 * CHUNK_BYTES // 8 + 5, dtype=np.float64),  # one buffer over several chunks
    bytes(range(256)) * (CHUNK_BYTES // 128 + 3),
    [b"x" * 100, "text\nwith newlines\n", 3.5] * 2000,
]


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("value", VALUES, ids=["dict", "array", "bytes", "list"])
def test_a_payload_is_loaded_while_it_is_written_and_hashed(
    tmp_path: Path, value: Any, protocol: int
) -> None:
    """Protocol 0 reads lines (``readline``), later ones frames, peeks and buffers."""
    content = pickle.dumps(value, protocol=protocol)
    stream = Stream(content)
    received = receive(stream, tmp_path / "output.pickle", pickle.load)
    assert received.load_error is None
    if isinstance(value, np.ndarray):
        assert np.array_equal(received.value, value)
    else:
        assert received.value == value
    assert (tmp_path / "output.pickle").read_bytes() == content
    assert (received.md5, received.size) == (md5_of(content), len(content))
    assert stream.was_closed


def test_without_a_loader_the_stream_is_only_written_and_hashed(tmp_path: Path) -> None:
    content = bytes(range(256)) * (CHUNK_BYTES // 100)
    received = receive(Stream(content), tmp_path / "f")
    assert (received.md5, received.size, received.value) == (md5_of(content), len(content), None)
    assert (tmp_path / "f").read_bytes() == content


def test_bytes_after_the_pickle_are_still_written_and_hashed(tmp_path: Path) -> None:
    content = pickle.dumps([1, 2, 3]) + b"trailing bytes the loader never asks for"
    received = receive(Stream(content), tmp_path / "f", pickle.load)
    assert received.value == [1, 2, 3]
    assert received.md5 == md5_of(content)
    assert (tmp_path / "f").read_bytes() == content


def test_a_loader_error_is_returned_once_the_stream_is_whole(tmp_path: Path) -> None:
    """Damaged bytes may not unpickle: the caller checks the MD5 before it says why."""
    content = b"not a pickle at all" * 1000
    received = receive(Stream(content), tmp_path / "f", pickle.load)
    assert isinstance(received.load_error, pickle.UnpicklingError)
    assert received.md5 == md5_of(content)
    assert (tmp_path / "f").read_bytes() == content


@pytest.mark.parametrize("load", [None, pickle.load], ids=["written", "loaded"])
def test_a_stream_failing_midway_raises_and_is_closed(tmp_path: Path, load: Any) -> None:
    content = pickle.dumps(np.arange(CHUNK_BYTES // 2, dtype=np.float64))
    stream = Stream(content, fail_after=CHUNK_BYTES)
    with pytest.raises(StreamInterruptedError, match=f"after {CHUNK_BYTES} bytes"):
        receive(stream, tmp_path / "f", load)
    assert stream.was_closed
