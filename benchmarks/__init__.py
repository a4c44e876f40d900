"""Benchmarks of ``dagster_wandb_v2`` side by side with the legacy ``dagster-wandb``.

Run ``nox -s bench`` or ``python -m benchmarks [--quick]``; see
``docs/benchmarks.md``. Nothing is imported here: the harness (and its workers, run by
each benchmark environment's own Python) is loaded only when it runs.
"""
