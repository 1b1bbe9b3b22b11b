"""The help-centre sync as the CLI and the scheduler run it: one sync of a source at a time across every
instance (`bot/services/locks.py`, lock `kb-sync:<source>`). Two syncs of one source at once each looked an
external article up, found none, and both created it: two KB articles for one help-centre article."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.kb.sync import SyncReport, sync
from bot.kb.sync_readers import build_reader
from bot.services import Services
from bot.services.locks import Busy, exclusive


class SyncBusy(Busy):
    """Another sync of the same help centre is running: this one did nothing."""


def run_sync(services: Services, source: str, *, folder: Path | None = None, full: bool = False) -> SyncReport:
    """One sync pass of `source` under its lock; raises `SyncBusy` when another one is running."""
    reader = build_reader(source, services.settings, services.integrations, folder=folder)
    every = dt.timedelta(hours=services.settings.kb_sync_full_hours)
    return exclusive(services, f"kb-sync:{source}",
                     lambda run: sync(services.kb, services.session, reader, clock=services.clock, full=full,
                                      full_every=every),
                     what=f"A help-centre sync from {source}", busy=SyncBusy)
