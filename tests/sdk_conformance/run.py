"""Run the wandb SDK's artifact and registry system tests against the local W&B server.

Usage (``nox -s sdk_conformance -- PATH`` does the same in its own virtualenv)::

    python tests/sdk_conformance/run.py PATH_TO_WANDB_CHECKOUT [extra pytest args]

``PATH`` holds a wandb source tree (at least ``tests/`` and ``pyproject.toml``); the tests
run unchanged, with ``wandb_conformance_plugin`` pointing them at a local server on
127.0.0.1. Prints passed / failed / skipped, the failures and skips grouped by category
(see :mod:`categories`), and exits 0 when no failure is left unexplained.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from categories import SERVER_GAP, categorize  # noqa: E402

SUITES = ("tests/system_tests/test_artifacts", "tests/system_tests/test_registries")


def run_pytest(checkout: Path, junit: Path, extra: list[str]) -> int:
    """Run the suites in ``checkout``; the report goes to ``junit``; returns pytest's code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(checkout), str(HERE), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.pop("WANDB_BASE_URL", None)  # the plugin decides where the SDK goes
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "wandb_conformance_plugin",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",  # the checkout's addopts need pytest-cov
        "--rootdir",
        str(checkout),
        "-c",
        str(checkout / "pyproject.toml"),
        "-q",
        "-rN",
        "--continue-on-collection-errors",
        f"--junitxml={junit}",
        *SUITES,
        *extra,
    ]
    return subprocess.call(cmd, cwd=checkout, env=env)


def outcomes(junit: Path) -> list[tuple[str, str, str]]:
    """``(test id, outcome, message)`` per test case of a JUnit XML report."""
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
                message = (child.get("message") or "").strip()
                if message in ("", "collection failure"):
                    message = f"{message}: {(child.text or '').strip().splitlines()[-1:]}"
                break
        out.append((test_id, outcome, message))
    return out


def report(results: list[tuple[str, str, str]]) -> int:
    """Print the figures; returns how many failures are gaps of the local server."""
    counts = Counter(outcome for _, outcome, _ in results)
    by_category: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for test_id, outcome, message in results:
        if outcome != "passed":
            by_category[(outcome, categorize(test_id, outcome, message))].append(
                (test_id, outcome, message)
            )
    for (outcome, category), items in sorted(by_category.items()):
        print(f"\n== {outcome}: {category} ({len(items)})")
        for test_id, _, message in sorted(items):
            print(f"  {test_id}\n      {message.splitlines()[0][:160] if message else ''}")
    print("\n== by category")
    for (outcome, category), items in sorted(by_category.items()):
        print(f"  {outcome:8} {len(items):4}  {category}")
    gaps = sum(len(v) for (o, c), v in by_category.items() if c == SERVER_GAP)
    print(
        f"\nsdk_conformance: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} errors, {counts['skipped']} skipped; "
        f"{gaps} caused by the local server"
    )
    return gaps


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    checkout = Path(argv[0]).resolve()
    if not (checkout / SUITES[0]).is_dir():
        print(f"{checkout}: no {SUITES[0]} (not a wandb checkout?)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        run_pytest(checkout, junit, argv[1:])
        if not junit.exists():
            print("pytest wrote no report", file=sys.stderr)
            return 2
        return 1 if report(outcomes(junit)) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
