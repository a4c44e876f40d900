"""The chart of the ratios: ``python -m benchmarks.chart RESULTS.json OUT.png``.

Needs matplotlib (installed in the benchmark environment only, never a package dependency).
Left: how much faster ours is than the legacy integration, per workload. Right: ours
against its floors and bounds (bare SDK + Dagster, raw loopback copy, payload size).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import ratio_text

MET, MISSED, NEUTRAL = "#2e7d32", "#c62828", "#607d8b"
FLOOR = 0.01
"""Ratios are drawn on a log scale; smaller ones (e.g. 0 bytes) are drawn at this value."""


def _target_value(target: str) -> float | None:
    found = re.search(r"([0-9]+(?:\.[0-9]+)?)", target or "")
    return float(found.group(1)) if found else None


def _color(met: bool | None) -> str:
    return NEUTRAL if met is None else (MET if met else MISSED)


def draw(results: dict[str, Any], output: Path) -> None:
    import importlib

    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")

    rows = [row for workload in results["workloads"] for row in workload["rows"]]
    speedups = [
        r
        for r in rows
        if r["kind"] == "speedup" and r["ratio"] is not None and r["reference_label"] == "legacy"
    ]
    bounds = [r for r in rows if r["kind"] == "bound" and r["ratio"] is not None]
    figure, axes = plt.subplots(
        1, 2, figsize=(14, max(4.0, 0.45 * max(len(speedups), len(bounds)) + 1.5))
    )
    panels = (
        (axes[0], speedups, "ours vs legacy dagster-wandb: speed-up (legacy / ours)"),
        (axes[1], bounds, "ours vs floors and bounds (ratio; target marked)"),
    )
    for axis, selected, title in panels:
        labels = [f"{r['workload']}: {r['measure']}" for r in selected]
        values = [max(FLOOR, r["ratio"]) for r in selected]
        positions = list(range(len(selected)))[::-1]
        axis.barh(positions, values, color=[_color(r["met"]) for r in selected])
        for position, row in zip(positions, selected, strict=True):
            shown = max(FLOOR, row["ratio"])
            text = ratio_text(row["ratio"], str(row["target"] or ""), row["met"])
            axis.text(shown, position, f" {text}", va="center", fontsize=8)
            target = _target_value(row["target"])
            if target is not None and row["target"].strip().startswith(("<", ">")):
                axis.plot(
                    [target, target], [position - 0.4, position + 0.4], color="black", linewidth=2
                )
        axis.set_yticks(positions)
        axis.set_yticklabels(labels, fontsize=8)
        axis.set_title(title, fontsize=10)
        axis.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
        axis.set_xscale("log")
        axis.set_xlim(min([*values, 0.5]) / 1.5, max([*values, 2.0]) * 3)
    meta = results.get("meta", {})
    figure.suptitle(
        f"dagster_wandb_v2 benchmarks ({meta.get('mode', '')}, {meta.get('reps', '?')} "
        "repetitions, medians, log scale; green: target met, red: missed, grey: no target, "
        "black tick: target)",
        fontsize=10,
    )
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m benchmarks.chart RESULTS.json OUT.png")
        return 2
    draw(json.loads(Path(args[0]).read_text()), Path(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
