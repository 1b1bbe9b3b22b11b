"""A settable clock for services (`services.clock = Clock(start)`): tests move time by assigning `.now`."""

from __future__ import annotations

import datetime as dt


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now
