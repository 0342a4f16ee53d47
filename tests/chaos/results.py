"""What one repeat of a scenario found, a scenario's totals, and the table `make chaos`
prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Repeat:
    """One fault and its recovery.

    items       prompts due (delivery) or writes acknowledged (journal)
    lost        a due prompt never pushed or not recorded as sent; an acknowledged write
                missing, unreadable or changed
    duplicated  a prompt recorded as delivered twice, or pushed twice other than in the
                one window the design leaves open; a journal entry stored twice
    recovered   prompts the fault stranded (claimed again after their lease) and then
                delivered; writes refused during the outage and acknowledged on retry
    window      prompts pushed twice because the worker was killed between the
                provider's answers and the write that records them: at most the
                batch in hand per killed pool child (docs: "What once means")
    bad         answers during the outage other than a 503 problem with Retry-After
    crashes     service processes that exited on their own after the fault, and why; the
                rig starts them again, as compose's `restart: unless-stopped` does
    """

    items: int
    lost: int
    duplicated: int
    recovered: int
    seconds: float
    window: int = 0
    bad: int = 0
    outage_seen: bool | None = None  # None: /readyz has nothing to report for this fault
    recovery_seen: bool | None = None
    readyz_recovery_seconds: float | None = None
    detail: str = ""
    crashes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    requested: int
    repeats: list[Repeat] = field(default_factory=list)
    skipped: str = ""
    error: str = ""
    seconds: float = 0.0

    def total(self, name: str) -> int:
        if name == "crashes":
            return sum(len(repeat.crashes) for repeat in self.repeats)
        return sum(int(getattr(repeat, name)) for repeat in self.repeats)

    def readyz(self, name: str) -> str:
        seen = [getattr(repeat, name) for repeat in self.repeats]
        if not seen or any(value is None for value in seen):
            return "-"
        return f"{sum(seen)}/{len(seen)}"

    @property
    def failures(self) -> list[str]:
        if self.skipped:
            return []
        found = []
        if self.error:
            found.append(self.error)
        if len(self.repeats) < self.requested:
            found.append(f"{len(self.repeats)} of {self.requested} repeats ran")
        for name in ("lost", "duplicated", "bad"):
            if self.total(name):
                found.append(f"{self.total(name)} {name}")
        if self.repeats and not self.total("recovered") and not self.total("lost"):
            found.append("the fault never stranded anything (nothing to recover): not tested")
        for name in ("outage_seen", "recovery_seen"):
            seen = [getattr(repeat, name) for repeat in self.repeats]
            if any(value is False for value in seen):
                found.append(f"/readyz {name.replace('_', ' ')} in {sum(seen)}/{len(seen)}")
        for index, repeat in enumerate(self.repeats, 1):
            found += [f"repeat {index}: {problem}" for problem in repeat.problems]
        return found

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requested": self.requested,
            "skipped": self.skipped,
            "error": self.error,
            "seconds": round(self.seconds, 1),
            "ok": self.ok,
            "failures": self.failures,
            "totals": {
                name: self.total(name)
                for name in ("items", "lost", "duplicated", "recovered", "window", "bad", "crashes")
            },
            "repeats": [asdict(repeat) for repeat in self.repeats],
        }


COLUMNS = [
    ("scenario", 17),
    ("repeats", 8),
    ("items", 7),
    ("lost", 6),
    ("duplicated", 11),
    ("recovered", 10),
    ("window", 7),
    ("bad", 5),
    ("crashed", 8),
    ("readyz outage", 14),
    ("readyz recovery", 16),
    ("seconds", 8),
]


def render(scenarios: list[Scenario]) -> str:
    header = "".join(
        f"{name:<{width}}" if index == 0 else f"{name:>{width}}"
        for index, (name, width) in enumerate(COLUMNS)
    )
    lines = [header, "-" * len(header)]
    for scenario in scenarios:
        if scenario.skipped:
            lines.append(f"{scenario.name:<17}  SKIPPED: {scenario.skipped}")
            continue
        cells = [
            f"{len(scenario.repeats)}/{scenario.requested}",
            scenario.total("items"),
            scenario.total("lost"),
            scenario.total("duplicated"),
            scenario.total("recovered"),
            scenario.total("window") if scenario.name == "worker-kill" else "-",
            scenario.total("bad") if scenario.name == "postgres-restart" else "-",
            scenario.total("crashes"),
            scenario.readyz("outage_seen"),
            scenario.readyz("recovery_seen"),
            f"{scenario.seconds:.0f}",
        ]
        lines.append(
            f"{scenario.name:<17}"
            + "".join(
                f"{cell!s:>{width}}" for cell, (_, width) in zip(cells, COLUMNS[1:], strict=True)
            )
        )
    lines += [
        "",
        "items: prompts due (delivery) / writes acknowledged (journal). lost and duplicated",
        "must be 0. recovered: stranded by the fault, then delivered or acknowledged.",
        "window: pushed twice because the worker died between the provider's OK and the",
        "write recording it, at most its batch (recorded once; the collapse key replaces",
        "the first notification).",
        "bad: an answer during the outage other than 503 problem+json with Retry-After.",
        "crashed: service processes that exited on their own after the fault; started again",
        "(as compose's restart policy does), their prompts recovered like a killed worker's.",
    ]
    crashes = [
        (scenario.name, crash)
        for scenario in scenarios
        for repeat in scenario.repeats
        for crash in repeat.crashes
    ]
    if crashes:
        lines += ["", "Crashes (the last error line of each):"]
        lines += [f"  {name}: {crash}" for name, crash in crashes]
    failing = [scenario for scenario in scenarios if not scenario.ok]
    for scenario in failing:
        lines.append("")
        lines.append(f"FAILED {scenario.name}:")
        lines += [f"  - {failure}" for failure in scenario.failures]
    skipped = [scenario for scenario in scenarios if scenario.skipped]
    verdict = "PASS" if not failing else "FAIL"
    if skipped and not failing:
        verdict += " (not run: " + "; ".join(f"{s.name}: {s.skipped}" for s in skipped) + ")"
    lines += ["", verdict]
    return "\n".join(lines)
