"""Rich terminal rendering for the CLI (the Slack bot has its own Block Kit builders)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

T = TypeVar("T")
VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "unclear": "bold yellow", "collateral": "bold yellow"}


def with_progress(out: Console, label: str, work: Callable[[Callable[[int, int], None]], T]) -> T:
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=out, transient=True) as bar:
        task = bar.add_task(label, total=None)
        return work(lambda done, total: bar.update(task, completed=done, total=total))


def with_count(out: Console, label: str, work: Callable[[Callable[[Any], None]], T]) -> T:
    with Progress(TextColumn("{task.description}"), TextColumn("{task.completed} done"), console=out,
                  transient=True) as bar:
        task = bar.add_task(label, total=None)
        return work(lambda _result: bar.advance(task))


def import_report(out: Console, report: Any) -> None:
    out.print(f"Imported {report.conversations_added} conversations ({report.messages_added} messages); "
              f"{report.conversations_skipped} already present.")
    if getattr(report, "conversations_updated", 0):
        out.print(f"Updated {report.conversations_updated} conversations already present (new messages or "
                  "metadata; their gaps and digest items are kept).")
    if report.bad_lines:
        out.print(f"[yellow]{len(report.bad_lines)} bad lines skipped (everything else was kept):[/]")
        for bad in report.bad_lines[:50]:
            out.print(f"  line {bad.line}: {escape(bad.reason)}")
        if len(report.bad_lines) > 50:
            out.print(f"  … and {len(report.bad_lines) - 50} more")
    cleaned = report.cleaned
    if cleaned:
        out.print(f"{len(cleaned)} conversations had values the database cannot store cleaned (NUL, invalid "
                  "Unicode, NaN/Infinity) and were kept:")
        for note in cleaned[:10]:
            out.print(f"  line {note.line}: {escape(note.what)}")
        if len(cleaned) > 10:
            out.print(f"  … and {len(cleaned) - 10} more")


def sample(out: Console, day: dt.date, items: Sequence[Any]) -> None:
    table = Table(title=f"Review sample for {day.isoformat()}")
    for col in ("#", "conversation", "id", "picked", "why"):
        table.add_column(col)
    for i, item in enumerate(items, 1):
        table.add_row(str(i), escape(item.external_id), str(item.conversation_id), item.pick,
                      escape(", ".join(item.reasons)))
    out.print(table if items else "Nothing left to review: every conversation has been sampled.")


def gap_list(out: Console, gaps: Sequence[Any]) -> None:
    table = Table(title="Gaps")
    for col in ("#", "state", "kind", "title", "owner", "flagged"):
        table.add_column(col)
    for g in gaps:
        table.add_row(str(g.id), g.state, g.kind, escape(g.title or "(no outline yet)"), escape(g.owner or ""),
                      g.flagged_at.date().isoformat())
    out.print(table if gaps else "No gaps.")


def flag_result(out: Console, result: Any) -> None:
    if result.gap_id is None:
        out.print("[yellow]This looks like a gap that is already open:[/]")
        for m in result.matches:
            out.print(escape(f"  gap #{m.gap_id} ({m.state}, owner {m.owner}): {m.title or ''} — similarity {m.score}"))
        out.print("Join it with --join ID, or open a new gap with --new.")
    elif result.created:
        out.print(f"Opened gap #{result.gap_id}.")
    else:
        out.print(f"Joined gap #{result.gap_id}." if result.joined else f"Already flagged: gap #{result.gap_id}.")


def outline(out: Console, o: Any) -> None:
    lines = [f"# {o.title}", o.summary, f"**Kind:** {o.kind}"]
    for s in o.sections:
        lines.append(f"## {s.heading}")
        lines += [f"- {p}" for p in s.points]
    lines.append("## Facts the article must state")
    lines += [f"- {f}" for f in o.required_facts] or ["- (none yet: ask the experts)"]
    if o.questions_for_experts:
        lines.append("## Questions for the experts")
        lines += [f"- {q}" for q in o.questions_for_experts]
    if o.update_article_ids:
        lines.append(f"**Update instead of adding:** article #{o.update_article_ids[0]}")
    out.print(Panel(Markdown("\n".join(lines)), title="Outline"))


def draft(out: Console, d: Any) -> None:
    out.print(Panel(Markdown(f"# {d.title}\n\n{d.body}"), title=f"Draft for gap #{d.gap_id}"))


def replay(out: Console, r: Any) -> None:
    out.print(Panel(escape(r.before or "(no answer)"), title="Before: the original answer", border_style="red"))
    out.print(Panel(escape(r.after or "(no answer)"), title="After: the replayed answer", border_style="green"))
    if r.verdict is not None:
        style = VERDICT_STYLE.get(str(r.verdict), "bold")
        agreement = f", judge agreement {r.agreement:.0%}" if r.agreement is not None else ""
        shadow = "Shadow test (nothing published): " if str(r.kind) == "shadow" else ""
        label = str(r.verdict).upper()
        if str(r.verdict) == "collateral":
            label = "NOT A CLEAN PASS: another answer got worse"
        out.print(f"{shadow}Verdict: [{style}]{label}[/] (confidence {r.confidence}{agreement}, run {r.run_id})")
        for reason in r.reasons:
            out.print(f"  • {escape(reason)}")
        for fact in r.missing_facts:
            out.print(f"  [yellow]missing:[/] {escape(fact)}")
        for c in getattr(r, "collateral", []):
            out.print(f"[yellow]Another answer got worse[/] (message {c.position}): {escape(c.question)}")
            out.print(Panel(escape(c.before), title="Before", border_style="green"))
            out.print(Panel(escape(c.after), title="After", border_style="red"))
    else:
        for t in r.turns:
            out.print(f"[bold]turn {t.position}[/] user: {escape(t.user_text)}\n  agent: {escape(t.new_answer)}")


def publish(out: Console, p: Any) -> None:
    out.print(f"Published article #{p.article_id} v{p.article_version}: {escape(p.article_title)}")
    replay(out, p.outcome)
    out.print(f"Gap #{p.gap_id} is now [bold]{p.state}[/].")
    if p.regressions:
        regressions(out, p.regressions)


def regressions(out: Console, results: Sequence[Any]) -> None:
    broke = [r for r in results if r.broke]
    passing = sum(1 for r in results if r.verdict == "pass")
    out.print(f"Regression suite: {passing}/{len(results)} passing, {len(broke)} broke.")
    for r in results:
        if r.broke or r.error:
            out.print(f"  [red]case {r.case_id} (gap #{r.gap_id})[/]: {escape(str(r.error or r.verdict))}"
                      f" — fixed by {escape(str(r.fixed_by))}")


def hits(out: Console, found: Sequence[Any]) -> None:
    table = Table(title="Search results")
    for col in ("#", "id", "title", "score"):
        table.add_column(col)
    for i, h in enumerate(found, 1):
        table.add_row(str(i), str(h.article_id), escape(h.title), f"{h.score:.3g}")
    out.print(table if found else "No matching articles.")


def articles(out: Console, rows: Sequence[Any]) -> None:
    table = Table(title="Knowledge base")
    sections = any(getattr(a, "external_section", None) for a in rows)  # synced articles: their help-centre section
    for col in ("id", "slug", "title", *(("section",) if sections else ()), "version", "updated"):
        table.add_column(col)
    for a in rows:
        where = (escape(a.external_section or "-"),) if sections else ()
        table.add_row(str(a.id), a.slug, escape(a.title), *where, str(a.version), a.updated_at.date().isoformat())
    out.print(table if rows else "The knowledge base is empty.")


def gap_detail(out: Console, g: Any) -> None:
    out.print(Panel(f"[bold]Gap #{g.id}[/] " + escape(
        f"{g.title or ''}\nstate {g.state} · kind {g.kind} · owner {g.owner} · "
        f"flagged by {', '.join(g.flaggers)}\nconversation {g.conversation_ref}, turn {g.flagged_position}")))
    for pos, role, text in g.turns:
        marker = "[red]→[/]" if pos == g.flagged_position else " "
        out.print(f"{marker} {pos:>2} {role:>6}: {escape(text)}")
    for author, text in g.notes:
        out.print(f"[cyan]note[/] {escape(author)}: {escape(text)}")
    if g.outline:
        outline(out, g.outline)
    if g.draft_title:
        out.print(Panel(Markdown(f"# {g.draft_title}\n\n{g.draft_body}"), title="Latest draft"))
    if g.last_verdict:
        out.print(escape(f"Last verdict: {g.last_verdict} — {'; '.join(g.last_reasons)}"))
    for at, action, actor in g.history:
        out.print(escape(f"  {at:%Y-%m-%d %H:%M} {action} by {actor}"))
