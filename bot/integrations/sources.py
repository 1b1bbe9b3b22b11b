"""Incremental pulls of conversations from Zendesk and Intercom (and `flywheel.sources` plug-ins).

A source yields batches: conversations in the JSONL shape plus the cursor to resume from once they are
stored. `pull` imports each batch (a conversation already stored is updated when it came back with new
messages or metadata, skipped when unchanged), and only then saves the cursor in `SourceCursor`: a crash or
an error mid-pull resumes after the last imported batch, nothing is skipped, and nothing is stored twice.
Only finished conversations are pulled (Zendesk solved/closed, Intercom closed, configurable): a reopened
one comes back, with its new messages, once it is finished again.

Two pulls of one source never overlap: each runs under the `pull:<source>` job claim (a lease renewed while it
runs, given back when it ends); a second one raises `PullBusy` and does nothing. The vendors: `source_zendesk.py`,
`source_intercom.py`; what they share (Batch, filters): `source_base.py`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, cast

from bot.errors import FlywheelError
from bot.integrations import SOURCES_GROUP, load_entry_point
from bot.integrations.http import SourceError
from bot.integrations.settings import IntegrationSettings
from bot.integrations.source_base import Batch, PullFilter, Source, plain
from bot.integrations.source_intercom import IntercomSource
from bot.integrations.source_zendesk import ZendeskSource
from bot.services import Services
from bot.services.claims import ClaimRun
from bot.services.importer import import_records
from bot.services.locks import Busy, exclusive
from storage.models import SourceCursor

__all__ = ["Batch", "IntercomSource", "PullBusy", "PullFilter", "PullReport", "Source", "ZendeskSource",
           "build_source", "load_cursor", "plain", "pull", "pull_scheduled", "save_cursor"]

log = logging.getLogger(__name__)

class PullBusy(Busy):
    """Another pull of the same source is running (this process or another): this one did nothing."""


@dataclass
class PullReport:
    source: str
    batches: int = 0
    added: int = 0
    updated: int = 0  # already stored, came back with new messages or metadata
    skipped: int = 0  # already stored and unchanged
    filtered: int = 0  # left out by the pull filters (tags, brand, AI only)
    refused: list[str] = field(default_factory=list)  # conversations the source refused to show (HTTP 403)
    bad: list[str] = field(default_factory=list)  # "<conversation id>: <reason>", never conversation text


def load_cursor(services: Services, name: str) -> str | None:
    with services.session() as session:
        row = session.get(SourceCursor, name)
        return row.cursor if row else None


def save_cursor(services: Services, name: str, cursor: str | None, *, run: ClaimRun | None = None) -> None:
    with services.session() as session:
        row = session.get(SourceCursor, name) or SourceCursor(name=name)
        row.cursor, row.updated_at = cursor, services.clock()
        session.add(row)
        if run is not None:
            run.heartbeat(session)  # the lease is renewed with the progress


def pull(services: Services, source: Source, *, filters: PullFilter | None = None) -> PullReport:
    """One incremental pull under the source's lock: import batch after batch, saving the cursor after each.
    Raises `PullBusy` when another pull of the same source is running."""
    chosen = filters or getattr(source, "filters", None) or PullFilter.from_settings(services.integrations)
    return exclusive(services, f"pull:{source.name}", lambda run: _pull(services, source, chosen, run),
                     what=f"A pull from {source.name}", busy=PullBusy)


def _pull(services: Services, source: Source, filters: PullFilter, run: ClaimRun) -> PullReport:
    report = PullReport(source=source.name)
    for batch in source.fetch(load_cursor(services, source.name)):
        kept = [r for r in batch.records if filters.keep(r)]
        result = import_records(services, enumerate(kept), source=source.name)
        report.batches += 1
        report.added += result.conversations_added
        report.updated += result.conversations_updated
        report.skipped += result.conversations_skipped
        report.filtered += getattr(batch, "filtered", 0) + len(batch.records) - len(kept)
        report.refused += list(getattr(batch, "refused", []))
        report.bad += [f"{kept[b.line].get('id')}: {b.reason}" for b in result.bad_lines]
        save_cursor(services, source.name, batch.cursor, run=run)
    log.info("pull done source=%s batches=%d added=%d updated=%d skipped=%d filtered=%d refused=%d bad=%d",
             source.name, report.batches, report.added, report.updated, report.skipped, report.filtered,
             len(report.refused), len(report.bad))
    return report


def scheduled_sources(conf: IntegrationSettings) -> list[str]:
    """FLYWHEEL_PULL_SOURCES, or every built-in source whose credentials are set."""
    if conf.pull_sources.strip():
        return list(dict.fromkeys(p.strip() for p in conf.pull_sources.split(",") if p.strip()))
    names = []
    if conf.zendesk_token is not None and (conf.zendesk_subdomain or conf.zendesk_url):
        names.append("zendesk")
    if conf.intercom_token is not None:
        names.append("intercom")
    return names


def pull_scheduled(services: Services) -> dict[str, PullReport | None]:
    """The scheduled pull (FLYWHEEL_PULL_SCHEDULE): each source in turn; a busy or failing one is logged and
    the others still run. Returns each source's report (None: busy or failed)."""
    conf = services.integrations
    results: dict[str, PullReport | None] = {}
    names = scheduled_sources(conf)
    if not names:
        log.warning("scheduled pull: no source configured (FLYWHEEL_PULL_SOURCES, or Zendesk/Intercom credentials)")
    for name in names:
        try:
            results[name] = pull(services, build_source(name, conf))
        except PullBusy:
            log.info("scheduled pull skipped source=%s: another pull is running", name)
            results[name] = None
        except FlywheelError as exc:  # the message names the setting or the vendor's status, never a secret
            log.warning("scheduled pull failed source=%s error=%s: %s", name, type(exc).__name__, exc.message)
            results[name] = None
    return results


def build_source(name: str, conf: IntegrationSettings, **kw: Any) -> Source:
    """`zendesk`, `intercom`, or a `flywheel.sources` entry point (a factory called with the connector
    settings, `Services.integrations`). `filters=` overrides the settings' pull filters."""
    if name == "zendesk":
        return ZendeskSource.from_settings(conf, **kw)
    if name == "intercom":
        return IntercomSource.from_settings(conf, **kw)
    source = load_entry_point(SOURCES_GROUP, name, builtin=("zendesk", "intercom"))(conf)
    if not callable(getattr(source, "fetch", None)):
        raise SourceError(f"The source {name!r} from {SOURCES_GROUP} has no fetch() method.", retryable=False)
    return cast(Source, source)  # checked above: it has a fetch() method
