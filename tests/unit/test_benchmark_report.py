"""The benchmark table never shows a ratio that reads as the opposite of its status."""

from pathlib import Path
from typing import Any

import pytest

from benchmarks.report import ratio_text, table_rows


def _row(ratio: float, target: str, met: bool | None) -> dict[str, Any]:
    return {
        "workload": "P0",
        "measure": "m",
        "reference_label": "floor",
        "reference": 1.0,
        "ours": ratio,
        "unit": "s",
        "ratio": ratio,
        "ratio_meaning": "ours / floor",
        "target": target,
        "met": met,
    }


@pytest.mark.parametrize(
    ("ratio", "target", "met", "shown"),
    [
        (1.004, "<= 1", False, "1.004x"),  # 1.00x would read as met
        (2.9996, ">= 3", False, "2.9996x"),
        (0.73, "<= 1", True, "0.73x"),
        (1.0049, "<= 1.0", False, "1.005x"),
        (3.1623, ">= 3", True, "3.16x"),
        (1.004, "", None, "1.00x"),
    ],
)
def test_a_ratio_shows_the_digits_its_status_needs(
    ratio: float, target: str, met: bool | None, shown: str
) -> None:
    (line,) = table_rows([{"rows": [_row(ratio, target, met)]}])
    assert line[4] == f"{shown} (ours / floor)"


def test_the_chart_labels_ratios_with_the_table_s_digits() -> None:
    # The chart needs matplotlib (benchmark environment only): its label is this text.
    source = (Path(__file__).resolve().parents[2] / "benchmarks" / "chart.py").read_text()
    assert "ratio_text(" in source
    assert ratio_text(1.104, "<= 1.1", False) == "1.104x"
