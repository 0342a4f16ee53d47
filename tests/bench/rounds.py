"""What every benchmark of `make bench` shares: alternating rounds, and a figure printed as
the median of its rounds with their spread.

A shared machine moves a single reading by several per cent (the journal's list ratio read
0.97x in one run and 0.91x in the next, same code). So each benchmark measures in rounds,
ours and its twin alternating within a round and taking turns to go first, computes the
figure (a ratio, a rate) per round, and reports the median of at least five rounds with
the lowest and highest: one reading that can be trusted, and how far to trust it.
"""

from __future__ import annotations

import logging
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_ROUNDS = 5


@dataclass(frozen=True)
class Figure:
    """One figure's value in each round."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def spread(self, unit: str = "", digits: int = 3, *, of: str = "rounds") -> str:
        """`median (low-high, N rounds)`."""
        return (
            f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}-{self.high:.{digits}f}, "
            f"{len(self.values)} {of})"
        )


def figure(values: Sequence[float]) -> Figure:
    return Figure(tuple(values))


def in_turn(index: int, first: Callable[[], None], second: Callable[[], None]) -> None:
    """Run both, the first going first in even rounds and second in odd ones."""
    for call in (first, second) if index % 2 == 0 else (second, first):
        call()


def rounds_argument(value: str) -> int:
    rounds = int(value)
    if rounds < MIN_ROUNDS:
        raise ValueError(f"at least {MIN_ROUNDS} rounds: a median of fewer says little")
    return rounds


def quiet_logs() -> None:
    """Only figures on the output: the service's request and delivery lines go nowhere."""
    os.environ["LOG_LEVEL"] = "WARNING"
    logging.disable(logging.INFO)


def goal(met: bool) -> str:
    return "met" if met else "NOT met"
