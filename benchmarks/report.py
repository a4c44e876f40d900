"""The results: a table for the terminal, and for Markdown (``python -m
benchmarks.report bench-results.json`` prints it for the docs)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from benchmarks.workloads import check, format_value

COLUMNS = ("workload", "measure", "reference", "ours", "ratio", "target", "status")


def _status(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "MISSED")


def ratio_text(value: float, target: str, met: bool | None) -> str:
    """``value`` as ``"1.23x"``, with two decimals or as many more (up to 4) as it takes
    for the shown number to read as the status does: 1.004 against "<= 1.0" shows
    ``"1.004x"``, not ``"1.00x"`` (the table and the chart alike)."""
    found = re.match(r"\s*(<=|>=|<)\s*([0-9.]+)", target or "")
    for digits in (2, 3, 4):
        shown = f"{value:.{digits}f}"
        if found is None or met is None:
            break
        if check(float(shown), found.group(1), float(found.group(2))) == met:
            break
    return f"{shown}x"


def _ratio(row: dict[str, Any]) -> str:
    value = row["ratio"]
    if value is None:
        return "-"
    shown = ratio_text(value, str(row["target"] or ""), row["met"])
    return f"{shown} ({row['ratio_meaning']})" if row["ratio_meaning"] else shown


def table_rows(workloads: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    lines: list[tuple[str, ...]] = []
    for workload in workloads:
        for row in workload["rows"]:
            reference = format_value(row["reference"], row["unit"])
            lines.append(
                (
                    str(row["workload"]),
                    str(row["measure"]),
                    f"{reference} ({row['reference_label']})" if reference != "-" else "-",
                    format_value(row["ours"], row["unit"]),
                    _ratio(row),
                    str(row["target"] or "-"),
                    _status(row["met"]),
                )
            )
    return lines


def text_table(workloads: Sequence[dict[str, Any]]) -> str:
    rows = [COLUMNS, *table_rows(workloads)]
    widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(workloads: Sequence[dict[str, Any]]) -> str:
    rows = table_rows(workloads)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.report RESULTS.json``: the Markdown table."""
    import json
    import sys
    from pathlib import Path

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.report bench-results.json")
        return 2
    results = json.loads(Path(args[0]).read_text())
    print(markdown_table(results["workloads"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
