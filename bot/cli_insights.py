"""`flywheel stats`, `weekly`, `topics`, `recurrences`, `credit` and `trend`: what the loop has learned, from the
command line. `stats` and `weekly` read the same report as `/flywheel stats` and the Monday post
(`bot.services.weekly`), so the numbers agree everywhere."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.errors import ConfigError, InvalidInput

DEFAULT_DAYS = 28
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,20}$")  # a public or private channel's id, not its name


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _day(text: str) -> dt.datetime:
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date: use YYYY-MM-DD.") from None


def render_topics(out: Console, topics: list[Any], days: int) -> None:
    if not topics:
        out.print("No open topics: every gap is fixed or dismissed.")
        return
    table = Table(title=f"Open topics by impact, last {days} days")
    for name, justify in (("topic", "right"), ("label", "left"), ("open gaps", "left"), ("all gaps", "right"),
                          ("conversations", "right"), ("escalated", "right"), ("unresolved", "right"),
                          ("low CSAT", "right"), ("impact", "right"), ("examples", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for t in topics:
        table.add_row(f"#{t.id}", escape(t.label), ", ".join(f"#{g}" for g in t.open_gap_ids), str(len(t.gap_ids)),
                      str(t.conversations_touching), str(t.escalated), str(t.unresolved), str(t.low_csat),
                      str(t.impact), ", ".join(str(c) for c in t.sample_conversation_ids))
    out.print(table)


def render_recurrences(out: Console, found: list[Any]) -> None:
    if not found:
        out.print("No new recurrence: the verified fixes hold.")
        return
    out.print(f"Linked {len(found)} recurrence{'s' if len(found) != 1 else ''} to fixed gaps:")
    for r in found:
        title = f" {escape(r.gap_title)}" if r.gap_title else ""
        out.print(f"  gap #{r.gap_id}{title} ← conversation {escape(r.conversation_ref)} (#{r.conversation_id}):"
                  f" {escape(', '.join(r.reasons))}")


def render_credit(out: Console, credit: Any) -> None:
    last = credit.week_end - dt.timedelta(days=1)
    table = Table(title=f"Credit, week {credit.week_start:%d %b} – {last:%d %b %Y}")
    for name in ("who", "reviewed", "flagged", "drafted", "fixed", "total"):
        table.add_column(name, justify="left" if name == "who" else "right")
    for p in credit.people:
        table.add_row(escape(p.user), str(p.reviewed), str(p.flagged), str(p.drafted), str(p.fixed), str(p.total))
    team = credit.team
    table.add_row("team", str(team.reviewed), str(team.flagged), str(team.drafted), str(team.fixed), str(team.total),
                  style="bold")
    out.print(table)
    streak = credit.streak
    if streak.days:
        tail = "" if streak.today_done else " (close one today to keep it going)"
        out.print(f"Streak: {streak.days} day{'s' if streak.days != 1 else ''} in a row with a verified fix{tail}")
    else:
        out.print("Streak: none yet (verify a fix today to start one)")


def register(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    """Add the insight commands to the `flywheel` CLI."""
    register_report(app, services_factory)

    def embedder(svc: Any, lexical: bool) -> Any:
        from bot.services.topics import build_embedder

        return None if lexical else build_embedder(svc.settings)

    @app.command()
    def topics(
        days: Annotated[int, typer.Option(min=1, max=365, help="conversations of the last N days")] = DEFAULT_DAYS,
        as_json: Annotated[bool, typer.Option("--json", help="print the topics as JSON")] = False,
        lexical: Annotated[bool, typer.Option(help="group lexically even when embeddings are available")] = False,
    ) -> None:
        """Open topics (gaps grouped by what they are about), ranked by how many recent conversations touch them
        and how many of those went wrong."""
        from bot.services.topics import rank_topics

        svc = services_factory()
        ranked = rank_topics(svc, now=svc.clock(), days=days, embedder=embedder(svc, lexical))
        if as_json:
            _json([t.model_dump(mode="json") for t in ranked])
        else:
            render_topics(Console(), ranked, days)

    @app.command()
    def recurrences(
        since: Annotated[str | None, typer.Option(help=f"YYYY-MM-DD (default: {DEFAULT_DAYS} days ago)")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print what was linked as JSON")] = False,
        lexical: Annotated[bool, typer.Option(help="group lexically even when embeddings are available")] = False,
    ) -> None:
        """Scan conversations imported since a day for fixed gaps that came back (same topic, went wrong again),
        and link them to the gap. Idempotent: what is already linked is not reported again."""
        from bot.services.recurrence import scan_recurrences

        svc = services_factory()
        start = _day(since) if since else svc.clock() - dt.timedelta(days=DEFAULT_DAYS)
        found = scan_recurrences(svc, since=start, embedder=embedder(svc, lexical))
        if as_json:
            _json([asdict(r) for r in found])
        else:
            render_recurrences(Console(), found)

    @app.command()
    def credit(as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False) -> None:
        """This week's credit: who reviewed, flagged, drafted and fixed (FLYWHEEL_CREDIT_OPT_OUT people are not
        named), and the team's streak of days with a verified fix."""
        from bot.services.credit import opt_out_ids, weekly_credit

        svc = services_factory()
        tz = ZoneInfo(svc.settings.timezone)
        now = svc.clock()
        today = now.astimezone(tz).date()
        monday = today - dt.timedelta(days=today.weekday())
        raw = getattr(svc.settings, "credit_opt_out", None)  # once Settings has the field; else the variable
        result = weekly_credit(svc, week_start=monday, week_end=monday + dt.timedelta(days=7), now=now, tz=tz,
                               opt_out=opt_out_ids(raw) if raw is not None else None)
        if as_json:
            sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        else:
            render_credit(Console(), result)

    @app.command()
    def trend(
        weeks: Annotated[int, typer.Option(min=1, max=52)] = 8,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        chart: Annotated[Path | None, typer.Option(help="write the PNG chart here")] = None,
    ) -> None:
        """Week over week: the gap rate with its 95% interval, flagged → drafted → published → verified, the median
        time to fix and the recurrences."""
        from bot.services.trend import render_trend_chart, weekly_trend

        svc = services_factory()
        result = weekly_trend(svc, now=svc.clock(), weeks=weeks)
        if as_json:
            sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        else:
            Console().print(result.to_text(), markup=False, highlight=False)
        if chart:
            render_trend_chart(result, chart)
            Console(stderr=as_json).print(f"Chart written to {chart}")


def register_report(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    """`flywheel stats` and `flywheel weekly`."""

    @app.command()
    def stats(
        weeks: Annotated[int, typer.Option(min=1, max=52)] = 6,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        chart: Annotated[Path | None, typer.Option(help="write the PNG chart here")] = None,
    ) -> None:
        """Weekly loop stats: the gap rate with its 95% interval in words, new gaps → drafted → published →
        verified, time to fix, backlog, model calls and their estimated cost."""
        from bot.services.stats import FUNNEL_TERMS, weekly_stats
        from bot.services.weekly import gap_rate_headline

        svc = services_factory()
        report = weekly_stats(svc, now=svc.clock(), weeks=weeks)
        headline = gap_rate_headline(report.current, report.previous)
        if as_json:
            _json({**report.model_dump(mode="json"), "headline": headline, "definitions": FUNNEL_TERMS})
        else:
            from bot.services.costs import cost_report, weeks_window  # by task and model

            start, end = weeks_window(svc.clock(), weeks)
            Console().print(f"{headline}\n{report.to_text()}\n{cost_report(svc, start=start, end=end).to_text()}",
                            markup=False, highlight=False)
        if chart:
            from bot.services.chart import render_chart

            render_chart(report, chart)
            Console(stderr=as_json).print(f"Chart written to {chart}")

    @app.command()
    def weekly(
        channel: Annotated[str | None, typer.Option(help="channel ID (default: FLYWHEEL_STATS_CHANNEL)")] = None,
        preview: Annotated[bool, typer.Option(help="print the report instead of posting it (no Slack)")] = False,
        force: Annotated[bool, typer.Option(help="post even if this week's report was already posted")] = False,
    ) -> None:
        """Post last week's report and chart now, as the Monday job does (once per channel and week unless
        --force), or print it with --preview. Two --force at once post once: the second exits 75."""
        svc = services_factory()
        now = svc.clock()
        if preview:
            from bot.slack.weekly import preview_weekly

            report, _ = preview_weekly(svc, now=now)
            Console().print(report.to_text(), markup=False, highlight=False, soft_wrap=True)
            return
        from bot.slack.client import make_web_client
        from bot.slack.weekly import post_weekly

        target = channel or svc.settings.stats_channel
        if not target:
            raise ConfigError("No stats channel: set FLYWHEEL_STATS_CHANNEL or pass --channel C0123ABC.")
        if not CHANNEL_ID.match(target):  # a name (#general) or anything else: the chart upload needs an id
            raise InvalidInput(f"{target!r} is not a channel id (like C0123ABC): in Slack, the channel's details "
                               "show it at the bottom.")
        from bot.services.locks import EXIT_BUSY, Busy, exclusive

        def post(_run: object = None) -> bool:
            return post_weekly(svc, make_web_client(svc.settings), now=now, channel=target, force=force)

        try:  # --force skips the week's claim: a lock keeps two forced posts at once from both posting
            posted = exclusive(svc, f"weekly:{target}", post, what=f"A forced weekly post to {target}") if force \
                else post()
        except Busy as exc:
            Console(stderr=True).print(escape(exc.message), highlight=False)
            raise typer.Exit(EXIT_BUSY) from None
        if posted:
            Console().print(f"Posted the weekly report to {target}.", markup=False, highlight=False)
        else:
            Console().print(f"The weekly report is already in {target} (or being posted): --force posts it again.",
                            markup=False, highlight=False)
