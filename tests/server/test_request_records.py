"""What tests learn of the requests a server handled: the record keeps only the last
requests, so a test selects its own by count, which keeps growing."""

import collections
import time
import urllib.request
from pathlib import Path

import pytest

from dagster_wandb_v2.testing.server import LocalWandbServer


def _get_healthz(server: LocalWandbServer, times: int) -> None:
    """``times`` requests, returning once the server has recorded them (a request is
    recorded just after its response is sent)."""
    expected = server.request_count + times
    for _ in range(times):
        with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=10) as response:
            assert response.status == 200
    deadline = time.monotonic() + 10
    while server.request_count < expected and time.monotonic() < deadline:
        time.sleep(0.01)


def test_requests_since_a_count_stay_right_once_old_records_are_dropped(tmp_path: Path) -> None:
    with LocalWandbServer(data_dir=tmp_path) as server:
        server._state.requests = collections.deque(maxlen=3)  # the record is full early
        _get_healthz(server, 5)
        mark = server.request_count
        assert mark == 5
        assert len(server.requests) == 3  # the length stops growing: no use as a mark
        _get_healthz(server, 2)
        assert server.request_count == 7
        assert [r.path for r in server.requests_since(mark)] == ["/healthz"] * 2
        assert server.requests_since(server.request_count) == []
        _get_healthz(server, 3)
        with pytest.raises(ValueError, match="only the last 3 are kept"):
            server.requests_since(mark)


def test_a_request_whose_answer_arrived_is_found_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_wandb_v2.testing.server.app import Handler

    record = Handler._record

    def late_record(self: Handler, *args: object) -> None:
        time.sleep(0.3)  # the handler's thread is slow to record, the client is not
        record(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Handler, "_record", late_record)
    with LocalWandbServer(data_dir=tmp_path) as server:
        mark = server.request_count
        with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=10) as response:
            assert response.read() == b"ok"
        assert [r.path for r in server.requests_since(mark)] == ["/healthz"]
        assert server.request_count == mark + 1
