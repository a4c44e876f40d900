"""``python -m dagster_wandb_v2.benchmarks``: see :mod:`dagster_wandb_v2.benchmarks.cli`."""

import sys

from dagster_wandb_v2.benchmarks.cli import main

sys.exit(main())
