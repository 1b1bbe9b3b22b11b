"""The fault-injection tally: every test in tests/reliability reports what it injected and what came out.

    tally.fault("slack 429")                 # one fault injected
    tally.replayed(3)                        # three redeliveries of something already delivered
    tally.expect("gaps", expected=1, got=n)  # n > 1 counts duplicates, n < 1 counts data lost

At the end of the session a line like
    reliability: 57 faults injected, 41 events replayed, 0 duplicates, 0 lost (sqlite+postgres)
is printed (and written to $FLYWHEEL_RELIABILITY_SUMMARY when set, as JSON).
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    faults: Counter[str] = field(default_factory=Counter)
    replays: int = 0
    duplicates: int = 0
    lost: int = 0
    checks: int = 0
    backends: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fault(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.faults[kind] += n

    def replayed(self, n: int = 1) -> None:
        with self._lock:
            self.replays += n

    def expect(self, what: str, *, expected: int, got: int) -> int:
        """Count the difference (more = duplicates, fewer = lost) and return `got` for the test's assert."""
        with self._lock:
            self.checks += 1
            self.duplicates += max(0, got - expected)
            self.lost += max(0, expected - got)
        return got

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def line(self) -> str:
        backends = "+".join(sorted(self.backends)) or "no database"
        return (f"reliability: {self.total_faults} faults injected, {self.replays} events replayed, "
                f"{self.duplicates} duplicates, {self.lost} lost, {self.checks} exactly-once checks ({backends})")

    def as_dict(self) -> dict[str, object]:
        return {"faults": dict(self.faults), "faults_total": self.total_faults, "replays": self.replays,
                "duplicates": self.duplicates, "lost": self.lost, "checks": self.checks,
                "backends": sorted(self.backends)}

    def write(self) -> None:
        path = os.environ.get("FLYWHEEL_RELIABILITY_SUMMARY")
        if path:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(self.as_dict(), f, indent=2, sort_keys=True)


TALLY = Tally()  # one per test session (pytest imports this module once)
