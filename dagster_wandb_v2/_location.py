"""Human-readable locations of outputs and inputs, used to prefix every error message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Location:
    """Where a configuration lives: ``asset 'my_model', output 'result'``.

    Example::

        >>> str(Location("asset", "my_model", "output", "result"))
        "asset 'my_model', output 'result'"
    """

    node_kind: Literal["asset", "op"]
    node_name: str
    side: Literal["output", "input"]
    side_name: str

    def __str__(self) -> str:
        return f"{self.node_kind} '{self.node_name}', {self.side} '{self.side_name}'"
