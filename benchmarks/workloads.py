"""The workloads: what is run, in which order, and what each one reports.

Every workload alternates its variants inside each repetition (legacy, ours, legacy,
ours...), each measurement in a fresh worker process and a fresh local directory, and
reports medians over the repetitions, and ratios of medians.

- P0 the floor: ours against the bare SDK doing the same W&B calls plus Dagster's own cost
  with its default IO manager;
- P1 a chain of small assets, legacy against ours (and the bare SDK's ceiling);
- P1-latency the same with the server adding latency to every request;
- P2 re-reading an unchanged artifact in a new run (bytes downloaded, time);
- P3 a large NumPy array written and read back (throughput against a raw loopback copy,
  peak RSS);
- P4 fan-in read of many partitions (legacy's sequential reads, ours sequential and
  concurrent, the bare SDK's reads one at a time);
- P5 cache eviction at teardown over caches of growing size.
"""

from __future__ import annotations

import shutil
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.runner import Runner, WorkerError

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Sizes:
    """How big each workload is, and how often it is repeated."""

    reps: int = 5
    chain_assets: int = 20
    latencies_ms: tuple[float, ...] = (20.0, 100.0)
    latency_chain_assets: int = 20
    reread_bytes: int = 16 * MIB
    array_bytes: int = GIB
    fanin_partitions: int = 100
    fanin_latency_ms: float = 20.0
    """P4 is run again with this much latency per request: W&B is remote in practice."""
    eviction_files: tuple[int, int] = (1_000, 10_000)
    eviction_inner_repeats: int = 5


FULL = Sizes()
QUICK = Sizes(
    reps=1,
    chain_assets=3,
    latencies_ms=(20.0, 100.0),
    latency_chain_assets=2,
    reread_bytes=256 * 1024,
    array_bytes=8 * MIB,
    fanin_partitions=4,
    eviction_files=(100, 1_000),
    eviction_inner_repeats=3,
)


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def metric(samples: Sequence[float], unit: str) -> dict[str, Any]:
    return {"median": median(samples), "samples": list(samples), "unit": unit}


@dataclass
class Row:
    """One line of the results table: ours against a reference, and the target."""

    workload: str
    measure: str
    reference_label: str
    reference: float | None
    ours: float | None
    unit: str
    ratio: float | None
    ratio_meaning: str
    target: str = ""
    met: bool | None = None
    kind: str = "speedup"
    """``speedup`` (reference / ours, higher is better) or ``bound`` (ours against a floor)."""


@dataclass
class Workload:
    """What one workload reports."""

    id: str
    title: str
    metrics: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "duration_s": self.duration_s,
            "metrics": self.metrics,
            "rows": [asdict(row) for row in self.rows],
            "notes": self.notes,
        }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def check(value: float | None, op: str, threshold: float) -> bool | None:
    if value is None:
        return None
    if op == "<":
        return value < threshold
    return value >= threshold if op == ">=" else value <= threshold


def speedup_row(
    workload: str,
    measure: str,
    legacy: float | None,
    ours: float | None,
    unit: str,
    target: float | None = None,
) -> Row:
    value = ratio(legacy, ours)
    return Row(
        workload,
        measure,
        "legacy",
        legacy,
        ours,
        unit,
        value,
        "legacy / ours",
        target=f">= {target:g}x" if target is not None else "",
        met=check(value, ">=", target) if target is not None else None,
    )


# --- running the variants ------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    label: str
    env: str
    side: str


class Context:
    """The runner, the sizes, and which sides are measured."""

    def __init__(
        self,
        runner: Runner,
        sizes: Sizes,
        log: Callable[[str], None],
        excluded_sides: set[str] | None = None,
    ) -> None:
        self.runner = runner
        self.sizes = sizes
        self.log = log
        self.excluded_sides = excluded_sides or set()

    def available(self, variants: Sequence[Variant]) -> list[Variant]:
        """The variants whose environment exists and whose side is measured."""
        return [
            variant
            for variant in variants
            if self.runner.has(variant.env) and variant.side not in self.excluded_sides
        ]

    def alternate(
        self,
        variants: Sequence[Variant],
        task: str,
        params: Callable[[Variant, int], dict[str, Any]],
        project: Callable[[Variant, int], str] | None = None,
        cleanup: bool = False,
    ) -> dict[str, list[dict[str, Any]]]:
        """Each repetition runs every variant once, in order; results by variant label."""
        results: dict[str, list[dict[str, Any]]] = {variant.label: [] for variant in variants}
        for rep in range(self.sizes.reps):
            for variant in variants:
                name = project(variant, rep) if project else self.runner.new_project(task)
                root = self._root(task, variant)
                try:
                    results[variant.label].append(
                        self.runner.run(
                            variant.env, task, variant.side, params(variant, rep), name, root
                        )
                    )
                finally:
                    if cleanup:
                        _remove_all_but_log(root)
            self.log(f"  {task}: repetition {rep + 1}/{self.sizes.reps} done")
        return results

    def _root(self, task: str, variant: Variant) -> Path:
        return self.runner.work_dir / "runs" / f"{task}-{variant.label}-{uuid.uuid4().hex[:8]}"


def _remove_all_but_log(root: Path) -> None:
    if not root.is_dir():
        return
    for child in root.iterdir():
        if child.name in ("worker.log", "spec.json"):
            continue
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _values(results: list[dict[str, Any]], key: str) -> list[float]:
    return [float(result[key]) for result in results if result.get(key) is not None]


def _calls(results: list[dict[str, Any]], name: str) -> list[float]:
    return [value for result in results for value in result["calls"].get(name, [])]


def _outputs_without_run_start(results: list[dict[str, Any]]) -> list[float]:
    """Per-output costs; the first output of ours also opened the W&B run: take it out."""
    values = []
    for result in results:
        outputs = list(result["calls"].get("output", []))
        run_start = sum(result["calls"].get("run_start", []))
        if outputs:
            outputs[0] -= run_start
        values.extend(outputs)
    return values


# --- P0 and P1: the chain --------------------------------------------------------------


CHAIN_VARIANTS = (
    Variant("legacy", "legacy", "legacy"),
    Variant("ours", "ours", "ours"),
    Variant("sdk", "ours", "sdk"),
    Variant("dagster", "ours", "dagster"),
    Variant("sdk_wandb_legacy", "legacy", "sdk"),
)


def chain(context: Context) -> list[Workload]:
    n_assets = context.sizes.chain_assets
    variants = context.available(CHAIN_VARIANTS)
    results = context.alternate(variants, "chain", lambda variant, rep: {"n_assets": n_assets})
    totals = {label: _values(found, "total_s") for label, found in results.items()}
    medians = {label: median(values) for label, values in totals.items()}

    p0 = Workload("P0", f"The floor: {n_assets}-asset chain, ours vs bare SDK + Dagster")
    ours = results.get("ours", [])
    sdk = results.get("sdk", [])
    floor = [a + b for a, b in zip(totals.get("sdk", []), totals.get("dagster", []), strict=False)]
    p0.metrics = {
        "ours_total": metric(totals.get("ours", []), "s"),
        "sdk_total": metric(totals.get("sdk", []), "s"),
        "dagster_default_io_total": metric(totals.get("dagster", []), "s"),
        "floor_total": metric(floor, "s"),
        "ours_per_output": metric(_outputs_without_run_start(ours), "s"),
        "sdk_per_output": metric(_calls(sdk, "output"), "s"),
        "ours_per_input": metric(_calls(ours, "input"), "s"),
        "sdk_per_input": metric(_calls(sdk, "input"), "s"),
        "ours_run_start": metric(_calls(ours, "run_start"), "s"),
        "sdk_run_start": metric(_calls(sdk, "run_start"), "s"),
        "ours_teardown": metric(_calls(ours, "teardown"), "s"),
        "sdk_run_finish": metric(_calls(sdk, "run_finish"), "s"),
    }
    m = {key: value["median"] for key, value in p0.metrics.items()}
    total_ratio = ratio(m["ours_total"], m["floor_total"])
    p0.rows = [
        Row(
            "P0",
            f"{n_assets}-asset run, total",
            "SDK + Dagster",
            m["floor_total"],
            m["ours_total"],
            "s",
            total_ratio,
            "ours / floor",
            "<= 1.0x",
            check(total_ratio, "<=", 1.0),
            kind="bound",
        ),
        Row(
            "P0",
            "per output (log + wait)",
            "bare SDK",
            m["sdk_per_output"],
            m["ours_per_output"],
            "s",
            ratio(m["ours_per_output"], m["sdk_per_output"]),
            "ours / SDK",
            kind="bound",
        ),
        Row(
            "P0",
            "per input (use + get)",
            "bare SDK",
            m["sdk_per_input"],
            m["ours_per_input"],
            "s",
            ratio(m["ours_per_input"], m["sdk_per_input"]),
            "ours / SDK",
            kind="bound",
        ),
        Row(
            "P0",
            "W&B run start",
            "bare SDK",
            m["sdk_run_start"],
            m["ours_run_start"],
            "s",
            ratio(m["ours_run_start"], m["sdk_run_start"]),
            "ours / SDK",
            kind="bound",
        ),
        Row(
            "P0",
            "teardown (finish + evict)",
            "bare SDK finish",
            m["sdk_run_finish"],
            m["ours_teardown"],
            "s",
            ratio(m["ours_teardown"], m["sdk_run_finish"]),
            "ours / SDK",
            kind="bound",
        ),
    ]
    p0.notes.append(
        "floor = bare SDK doing the chain's W&B calls in one run (log_artifact + wait per "
        "output, use_artifact + download per input) + the same Dagster run with its default "
        "IO manager; both measured in the ours environment"
    )

    p1 = Workload("P1", f"A Dagster run of {n_assets} small assets in a chain, in-process")
    p1.metrics = {label: metric(values, "s") for label, values in totals.items()}
    p1.metrics["legacy_per_output"] = metric(_calls(results.get("legacy", []), "output"), "s")
    p1.metrics["legacy_per_input"] = metric(_calls(results.get("legacy", []), "input"), "s")
    ceiling = ratio(medians.get("legacy"), medians.get("sdk"))
    p1.rows = [
        speedup_row(
            "P1", f"{n_assets}-asset chain", medians.get("legacy"), medians.get("ours"), "s", 3.0
        ),
        Row(
            "P1",
            f"vs the bare-SDK ceiling (legacy / SDK = {format_ratio(ceiling)})",
            "bare SDK",
            medians.get("sdk"),
            medians.get("ours"),
            "s",
            ratio(medians.get("ours"), medians.get("sdk")),
            "ours / SDK",
            "< 1x (beat it)",
            check(ratio(medians.get("ours"), medians.get("sdk")), "<", 1.0),
            kind="bound",
        ),
    ]
    if "sdk_wandb_legacy" in medians:
        p1.notes.append(
            f"bare SDK with the legacy environment's wandb: "
            f"{format_value(medians.get('sdk_wandb_legacy'), 's')} (ours environment: "
            f"{format_value(medians.get('sdk'), 's')})"
        )
    return [p0, p1]


# --- P1-latency ---------------------------------------------------------------------


LATENCY_VARIANTS = (
    Variant("legacy", "legacy", "legacy"),
    Variant("ours", "ours", "ours"),
    Variant("sdk", "ours", "sdk"),
)


def latency(context: Context, p1: Workload | None) -> Workload:
    n_assets = context.sizes.latency_chain_assets
    variants = context.available(LATENCY_VARIANTS)
    workload = Workload(
        "P1-latency", f"The {n_assets}-asset chain with server latency added to every request"
    )
    if p1 is not None and n_assets == context.sizes.chain_assets:
        workload.rows.append(_copy_row(p1.rows[0], "P1-latency", "0 ms"))
    try:
        for latency_ms in context.sizes.latencies_ms:
            context.runner.server.set_latency(latency_ms)
            results = context.alternate(
                variants, "chain", lambda variant, rep: {"n_assets": n_assets}
            )
            totals = {label: _values(found, "total_s") for label, found in results.items()}
            for label, values in totals.items():
                workload.metrics[f"{label}_{latency_ms:g}ms"] = metric(values, "s")
            target = 4.5 if latency_ms >= 100 else 3.0 if latency_ms == 0 else None
            workload.rows.append(
                speedup_row(
                    "P1-latency",
                    f"{latency_ms:g} ms per request",
                    median(totals.get("legacy", [])),
                    median(totals.get("ours", [])),
                    "s",
                    target,
                )
            )
            workload.notes.append(
                f"{latency_ms:g} ms: bare SDK {format_value(median(totals.get('sdk', [])), 's')}"
            )
    finally:
        context.runner.server.set_latency(0.0)
    return workload


def _copy_row(row: Row, workload: str, measure: str) -> Row:
    copied = Row(**asdict(row))
    copied.workload, copied.measure, copied.target, copied.met = workload, measure, "", None
    return copied


# --- P2: re-read ----------------------------------------------------------------------


READ_VARIANTS = (Variant("legacy", "legacy", "legacy"), Variant("ours", "ours", "ours"))


def reread(context: Context) -> Workload:
    size = context.sizes.reread_bytes
    project = context.runner.new_project("reread")
    setup = context.runner.run(
        "ours",
        "setup_artifacts",
        "sdk",
        {"artifacts": [{"name": "reread_src", "size": size}]},
        project,
    )
    params = {"name": "reread_src", "md5": setup["md5"]["reread_src"]}
    variants = context.available(READ_VARIANTS)
    results = context.alternate(
        variants, "reread", lambda variant, rep: params, lambda variant, rep: project
    )
    workload = Workload("P2", f"Re-reading an unchanged {format_size(size)} artifact in a new run")
    for label, found in results.items():
        for key in ("first_s", "reread_s"):
            workload.metrics[f"{label}_{key[:-2]}"] = metric(_values(found, key), "s")
        for key in ("first_payload_bytes", "reread_payload_bytes", "reread_bytes"):
            workload.metrics[f"{label}_{key}"] = metric(_values(found, key), "B")
    m = {key: value["median"] for key, value in workload.metrics.items()}
    ours_bytes = m.get("ours_reread_payload_bytes")
    workload.rows = [
        Row(
            "P2",
            "payload bytes downloaded on re-read",
            "legacy",
            m.get("legacy_reread_payload_bytes"),
            ours_bytes,
            "B",
            None,
            "",
            "ours = 0",
            None if ours_bytes is None else ours_bytes == 0,
            kind="bytes",
        ),
        speedup_row("P2", "re-read run", m.get("legacy_reread"), m.get("ours_reread"), "s"),
    ]
    workload.notes.append(
        "the artifact is logged with the bare SDK; each side reads it once in a fresh place "
        "(first run, downloads), then again in a new run (re-read); bytes are what the "
        "server sent, counted from its request log (payload file only; all bytes, manifests "
        "included, in the metrics)"
    )
    return workload


# --- P3: large array ------------------------------------------------------------------


_FLOOR_TASKS = (
    ("bigarray_sdk_write", "sdk_write"),
    ("bigarray_sdk_read", "sdk_read"),
    ("server_direct", "server"),
    ("raw_copy", "raw"),
)
"""P3's floors: worker task and sample label (whose first word is the worker's side)."""


def big_array(context: Context) -> Workload:
    size = context.sizes.array_bytes
    sides = context.available(READ_VARIANTS)
    samples: dict[str, list[dict[str, Any]]] = {"raw": []}
    for variant in sides:
        samples[f"{variant.label}_write"] = []
        samples[f"{variant.label}_read"] = []
    for rep in range(context.sizes.reps):
        for variant in sides:
            project = context.runner.new_project("bigarray")
            seed = float(uuid.uuid4().int % 1_000_000) + 0.5
            params = {"size_bytes": size, "seed": seed}
            for task, key in (("bigarray_write", "write"), ("bigarray_read", "read")):
                root = context._root(task, variant)
                try:
                    samples[f"{variant.label}_{key}"].append(
                        context.runner.run(variant.env, task, variant.side, params, project, root)
                    )
                finally:
                    _remove_all_but_log(root)
        # The floors, on the same bytes: the bare SDK (write, then read in a fresh place),
        # the server alone (HTTP PUT and GET), a raw loopback copy.
        # New content in every repetition: bytes the server already holds are not uploaded
        # again (W&B deduplicates by digest), which would time no upload at all.
        project = context.runner.new_project("bigarray-sdk")
        params = {"size_bytes": size, "seed": float(uuid.uuid4().int % 1_000_000) + 0.25}
        for task, label in _FLOOR_TASKS:
            root = context._root(task, Variant(label, "ours", "raw"))
            try:
                samples.setdefault(label, []).append(
                    context.runner.run("ours", task, label.split("_")[0], params, project, root)
                )
            finally:
                _remove_all_but_log(root)
        context.log(f"  bigarray: repetition {rep + 1}/{context.sizes.reps} done")

    workload = Workload("P3", f"A {format_size(size)} NumPy array written and read back")
    metrics = workload.metrics
    metrics["raw_upload"] = metric(_values(samples["raw"], "upload_s"), "s")
    metrics["raw_download"] = metric(_values(samples["raw"], "download_s"), "s")
    metrics["server_upload"] = metric(_values(samples["server"], "upload_s"), "s")
    metrics["server_download"] = metric(_values(samples["server"], "download_s"), "s")
    for key in ("write_s", "write_hash_s", "write_log_s"):
        metrics[f"sdk_{key[:-2]}"] = metric(_values(samples["sdk_write"], key), "s")
    for key in ("read_s", "read_load_s"):
        metrics[f"sdk_{key[:-2]}"] = metric(_values(samples["sdk_read"], key), "s")
    for key in ("write_peak_anonymous_rss_over_baseline", "write_peak_rss_over_baseline"):
        metrics[f"sdk_{key}"] = metric(_values(samples["sdk_write"], key), "B")
    for key in ("read_peak_anonymous_rss_over_baseline", "read_peak_rss_over_baseline"):
        metrics[f"sdk_{key}"] = metric(_values(samples["sdk_read"], key), "B")
    for variant in sides:
        writes, reads = samples[f"{variant.label}_write"], samples[f"{variant.label}_read"]
        label = variant.label
        metrics[f"{label}_write"] = metric(_values(writes, "write_s"), "s")
        metrics[f"{label}_read_cold"] = metric(_values(reads, "read_s"), "s")
        metrics[f"{label}_read_warm"] = metric(_values(writes, "warm_read_s"), "s")
        metrics[f"{label}_write_io"] = metric(_values(writes, "write_io_s"), "s")
        metrics[f"{label}_read_cold_io"] = metric(_values(reads, "read_io_s"), "s")
        metrics[f"{label}_read_warm_io"] = metric(_values(writes, "warm_read_io_s"), "s")
        for key in (
            "write_peak_rss_over_baseline",
            "write_peak_anonymous_rss_over_baseline",
            "write_service_peak_rss",
        ):
            metrics[f"{label}_{key}"] = metric(_values(writes, key), "B")
        for key in (
            "read_peak_rss_over_baseline",
            "read_peak_anonymous_rss_over_baseline",
            "read_service_peak_rss",
        ):
            metrics[f"{label}_{key}"] = metric(_values(reads, key), "B")
        metrics[f"{label}_warm_read_peak_rss_over_baseline"] = metric(
            _values(writes, "warm_read_peak_rss_over_baseline"), "B"
        )
    m = {key: value["median"] for key, value in metrics.items()}

    def throughput(seconds: float | None) -> float | None:
        return None if not seconds else size / seconds / MIB

    def bound(
        measure: str,
        label: str,
        reference: float | None,
        ours: float | None,
        unit: str,
        value: float | None,
        meaning: str,
        target: tuple[str, float] | None = None,
    ) -> Row:
        op, threshold = target or ("", 0.0)
        return Row(
            "P3",
            measure,
            label,
            reference,
            ours,
            unit,
            value,
            meaning,
            f"{op} {threshold:g}" if target else "",
            check(value, op, threshold) if target else None,
            kind="bound",
        )

    raw_up, raw_down = m.get("raw_upload"), m.get("raw_download")
    ours_write, ours_read = m.get("ours_write_io"), m.get("ours_read_cold_io")
    sdk_write, sdk_read = m.get("sdk_write"), m.get("sdk_read")
    anonymous_write = m.get("ours_write_peak_anonymous_rss_over_baseline")
    anonymous_read = m.get("ours_read_peak_anonymous_rss_over_baseline")
    workload.rows = [
        bound(
            "write throughput (handle_output)",
            "raw loopback",
            throughput(raw_up),
            throughput(ours_write),
            "MiB/s",
            ratio(raw_up, ours_write),
            "ours / raw",
            (">=", 0.25),
        ),
        bound(
            "read throughput (load_input, nothing cached)",
            "raw loopback",
            throughput(raw_down),
            throughput(ours_read),
            "MiB/s",
            ratio(raw_down, ours_read),
            "ours / raw",
            (">=", 0.5),
        ),
        bound(
            "write: ours / bare SDK (add_file + log_artifact + wait)",
            "bare SDK",
            throughput(sdk_write),
            throughput(ours_write),
            "MiB/s",
            ratio(ours_write, sdk_write),
            "ours time / SDK time",
            ("<=", 1.1),
        ),
        bound(
            "read: ours / bare SDK (use_artifact + download)",
            "bare SDK",
            throughput(sdk_read),
            throughput(ours_read),
            "MiB/s",
            ratio(ours_read, sdk_read),
            "ours time / SDK time",
            ("<=", 1.1),
        ),
        bound(
            "bare SDK write vs raw",
            "raw loopback",
            throughput(raw_up),
            throughput(sdk_write),
            "MiB/s",
            ratio(raw_up, sdk_write),
            "SDK / raw",
        ),
        bound(
            "bare SDK read vs raw",
            "raw loopback",
            throughput(raw_down),
            throughput(sdk_read),
            "MiB/s",
            ratio(raw_down, sdk_read),
            "SDK / raw",
        ),
        bound(
            "server ingest (HTTP PUT /blobs, MD5 checked)",
            "raw loopback",
            throughput(raw_up),
            throughput(m.get("server_upload")),
            "MiB/s",
            ratio(raw_up, m.get("server_upload")),
            "server / raw",
        ),
        bound(
            "server serve (HTTP GET /blobs)",
            "raw loopback",
            throughput(raw_down),
            throughput(m.get("server_download")),
            "MiB/s",
            ratio(raw_down, m.get("server_download")),
            "server / raw",
        ),
        bound(
            "peak anonymous RSS writing (no file pages)",
            "payload",
            float(size),
            anonymous_write,
            "B",
            ratio(anonymous_write, size),
            "ours / payload",
            ("<=", 1.1),
        ),
        bound(
            "peak anonymous RSS reading (no file pages)",
            "payload",
            float(size),
            anonymous_read,
            "B",
            ratio(anonymous_read, size),
            "ours / payload",
            ("<=", 1.1),
        ),
        bound(
            "peak RSS writing (VmHWM, file pages included)",
            "payload",
            float(size),
            m.get("ours_write_peak_rss_over_baseline"),
            "B",
            ratio(m.get("ours_write_peak_rss_over_baseline"), size),
            "ours / payload",
        ),
        bound(
            "peak RSS reading (VmHWM, file pages included)",
            "payload",
            float(size),
            m.get("ours_read_peak_rss_over_baseline"),
            "B",
            ratio(m.get("ours_read_peak_rss_over_baseline"), size),
            "ours / payload",
        ),
        speedup_row("P3", "write run", m.get("legacy_write"), m.get("ours_write"), "s"),
        speedup_row(
            "P3",
            "read run, nothing cached",
            m.get("legacy_read_cold"),
            m.get("ours_read_cold"),
            "s",
        ),
        speedup_row(
            "P3", "read run, same machine", m.get("legacy_read_warm"), m.get("ours_read_warm"), "s"
        ),
    ]
    workload.notes.append(
        "throughput: payload / time in handle_output or load_input (serializing, hashing, "
        "uploading or downloading, committing; not the W&B run start nor Dagster's run); "
        "raw loopback: the same bytes sent file to file over a TCP connection on 127.0.0.1 "
        "(upload, then download); peak RSS is the worker process's peak above its RSS "
        "before the array existed (the write holds the array: 1.0x is the minimum), as the "
        "kernel's high-water mark (VmHWM, which counts file pages mapped in memory) and as "
        "sampled anonymous memory (RssAnon, every 5 ms); the "
        "SDK's service process is reported apart in the metrics; bare SDK: the same "
        "pickled file logged with add_file(policy='immutable') + log_artifact + wait, and "
        "read in a fresh place with use_artifact + download (unpickling apart: sdk_read_load); "
        "server: the same file sent with one HTTP PUT to /blobs/<md5> and fetched with one "
        "GET into a file"
    )
    return workload


# --- P4: fan-in ----------------------------------------------------------------------


FANIN_VARIANTS = (
    Variant("legacy", "legacy", "legacy"),
    Variant("ours", "ours", "ours"),
    Variant("sdk", "ours", "sdk"),
    Variant("ours_sequential", "ours", "ours"),
)
FANIN_LATENCY_VARIANTS = FANIN_VARIANTS[:3]
"""Read again with server latency: legacy, ours (concurrent) and the bare SDK."""


FANIN_SDK_READ = "use_artifact + download + unpickle"
"""What the bare SDK does per partition (``task_fanin_sdk``)."""


def fan_in(context: Context) -> Workload:
    n = context.sizes.fanin_partitions
    keys = [f"p{index:03d}" for index in range(n)]
    project = context.runner.new_project("fanin")
    context.runner.run(
        "ours",
        "setup_artifacts",
        "sdk",
        {"artifacts": [{"name": f"fanin_src.{key}", "size": 1024} for key in keys]},
        project,
    )
    variants = context.available(FANIN_VARIANTS)

    def params(variant: Variant, rep: int) -> dict[str, Any]:
        found: dict[str, Any] = {"name": "fanin_src", "keys": keys}
        if variant.label == "ours_sequential":
            found["max_concurrent_reads"] = 1
        return found

    results = context.alternate(variants, "fanin", params, lambda variant, rep: project)
    latency_ms = context.sizes.fanin_latency_ms
    context.runner.server.set_latency(latency_ms)
    try:
        remote = context.alternate(
            context.available(FANIN_LATENCY_VARIANTS),
            "fanin",
            params,
            lambda variant, rep: project,
        )
    finally:
        context.runner.server.set_latency(0.0)
    workload = Workload("P4", f"Fan-in read of {n} partitions in one input")
    for label, found in remote.items():
        workload.metrics[f"{label}_load_{latency_ms:g}ms"] = metric(_values(found, "load_s"), "s")
    for label, found in results.items():
        workload.metrics[f"{label}_load"] = metric(_values(found, "load_s"), "s")
        workload.metrics[f"{label}_total"] = metric(_values(found, "total_s"), "s")
        workload.metrics[f"{label}_per_partition"] = metric(_values(found, "per_partition_s"), "s")
    m = {key: value["median"] for key, value in workload.metrics.items()}
    slow = f"{latency_ms:g}ms"
    workload.rows = [
        speedup_row(
            "P4",
            f"read {n} partitions (load_input)",
            m.get("legacy_load"),
            m.get("ours_load"),
            "s",
            10.0,
        ),
        speedup_row("P4", "whole run", m.get("legacy_total"), m.get("ours_total"), "s"),
        Row(
            "P4",
            "per partition: sequential / concurrent",
            "ours, 1 at a time",
            m.get("ours_sequential_per_partition"),
            m.get("ours_per_partition"),
            "s",
            ratio(m.get("ours_sequential_per_partition"), m.get("ours_per_partition")),
            "sequential / concurrent",
        ),
        speedup_row(
            "P4",
            f"read {n} partitions, {latency_ms:g} ms per request",
            m.get(f"legacy_load_{slow}"),
            m.get(f"ours_load_{slow}"),
            "s",
        ),
        Row(
            "P4",
            f"read {n} partitions: ours / bare SDK",
            "bare SDK",
            m.get("sdk_load"),
            m.get("ours_load"),
            "s",
            ratio(m.get("ours_load"), m.get("sdk_load")),
            "ours time / SDK time",
            kind="bound",
        ),
        Row(
            "P4",
            f"read {n} partitions: legacy / bare SDK (ceiling on the SDK's calls)",
            "legacy",
            m.get("legacy_load"),
            m.get("sdk_load"),
            "s",
            ratio(m.get("legacy_load"), m.get("sdk_load")),
            "legacy / SDK",
            kind="bound",  # a ceiling for ours, not a speed-up of ours: kept off that chart
        ),
        Row(
            "P4",
            f"read {n} partitions, {latency_ms:g} ms per request: ours / bare SDK",
            "bare SDK",
            m.get(f"sdk_load_{slow}"),
            m.get(f"ours_load_{slow}"),
            "s",
            ratio(m.get(f"ours_load_{slow}"), m.get(f"sdk_load_{slow}")),
            "ours time / SDK time",
            kind="bound",
        ),
    ]
    workload.notes.append(
        "partitions logged once with the bare SDK; every read starts with nothing cached; "
        "ours reads 8 partitions at a time (max_concurrent_reads, default) or 1; bare SDK: "
        f"one wandb run reading the partitions one after another ({FANIN_SDK_READ}; "
        "sdk_load: the reads only, not wandb.init nor finish); read again "
        f"with the server adding {latency_ms:g} ms to every request (legacy, ours, bare SDK)"
    )
    return workload


# --- P5: eviction ------------------------------------------------------------------


def eviction(context: Context) -> Workload:
    small, large = context.sizes.eviction_files
    variants = context.available(READ_VARIANTS)
    results = context.alternate(
        variants,
        "eviction",
        lambda variant, rep: {
            "n_files": [small, large],
            "inner_repeats": context.sizes.eviction_inner_repeats,
        },
    )
    workload = Workload("P5", f"Cache eviction at teardown, {small:,} vs {large:,} cached files")
    for label, found in results.items():
        for size in (small, large):
            for key in ("teardown_s", "full_scan_s"):
                values = [float(result["by_size"][str(size)][key]) for result in found]
                workload.metrics[f"{label}_{key[:-2]}_{size}"] = metric(values, "s")
    m = {key: value["median"] for key, value in workload.metrics.items()}
    growth = ratio(m.get(f"ours_teardown_{large}"), m.get(f"ours_teardown_{small}"))
    workload.rows = [
        Row(
            "P5",
            f"teardown, {large:,} vs {small:,} files",
            f"ours, {small:,} files",
            m.get(f"ours_teardown_{small}"),
            m.get(f"ours_teardown_{large}"),
            "s",
            growth,
            f"{large // small}x files",
            "<= 2x (flat)",
            check(growth, "<=", 2.0),
            kind="bound",
        ),
        Row(
            "P5",
            f"hourly scan, {large:,} vs {small:,} files",
            f"ours, {small:,} files",
            m.get(f"ours_full_scan_{small}"),
            m.get(f"ours_full_scan_{large}"),
            "s",
            ratio(m.get(f"ours_full_scan_{large}"), m.get(f"ours_full_scan_{small}")),
            f"{large // small}x files",
            kind="bound",
        ),
        speedup_row(
            "P5",
            f"teardown with {large:,} files",
            m.get(f"legacy_teardown_{large}"),
            m.get(f"ours_teardown_{large}"),
            "s",
        ),
    ]
    workload.notes.append(
        "nothing expires; ours: evict_expired at teardown when the last scan is recent (the "
        "usual case) and the scan it makes at most once per min(TTL, 1 h); legacy: "
        "_clean_local_storage_path, which walks every file after every input and output"
    )
    return workload


def format_size(size: int) -> str:
    if size >= GIB:
        return f"{size / GIB:g} GiB" if size % GIB == 0 else f"{size / GIB:.2f} GiB"
    if size >= MIB:
        return f"{size / MIB:g} MiB" if size % MIB == 0 else f"{size / MIB:.1f} MiB"
    return f"{size / 1024:.1f} KiB"


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        if value < 0.001:
            return f"{value * 1e6:.0f} us"
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "B":
        return format_size(int(value)) if value >= 1024 else f"{value:.0f} B"
    return f"{value:.1f} {unit}"


def run_all(context: Context, selected: Sequence[str]) -> list[Workload]:
    """Run the selected workloads (P0 and P1 share their runs) in a fixed order."""
    done: list[Workload] = []

    def timed(function: Callable[[], list[Workload]]) -> None:
        start = time.monotonic()
        try:
            produced = function()
        except WorkerError as error:  # report it and go on with the other workloads
            context.log(str(error))
            produced = [Workload("error", "a workload failed", notes=[str(error)[:2000]])]
        for workload in produced:
            workload.duration_s = (time.monotonic() - start) / len(produced)
        done.extend(produced)

    p1: Workload | None = None
    if {"P0", "P1"} & set(selected):
        context.log("P0/P1: chain")
        timed(lambda: chain(context))
        p1 = next((w for w in done if w.id == "P1"), None)
    if "P1-latency" in selected:
        context.log("P1-latency")
        timed(lambda: [latency(context, p1)])
    if "P2" in selected:
        context.log("P2: re-read")
        timed(lambda: [reread(context)])
    if "P3" in selected:
        context.log("P3: large array")
        timed(lambda: [big_array(context)])
    if "P4" in selected:
        context.log("P4: fan-in")
        timed(lambda: [fan_in(context)])
    if "P5" in selected:
        context.log("P5: eviction")
        timed(lambda: [eviction(context)])
    return done


WORKLOAD_IDS = ("P0", "P1", "P1-latency", "P2", "P3", "P4", "P5")
