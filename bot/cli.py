"""The `flywheel` command line: the whole loop without Slack. A thin edge over the services."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console

from bot import render
from bot.domain import GapKind, GapState
from bot.errors import FlywheelError
from bot.settings import Settings

app = typer.Typer(help="Flywheel: review → update → test → repeat, for your AI agent.", no_args_is_help=True)
gaps_app = typer.Typer(help="Knowledge gaps: list, show, flag, dismiss…", no_args_is_help=True)
kb_app = typer.Typer(help="The knowledge base: add, search, import, export.", no_args_is_help=True)
app.add_typer(gaps_app, name="gaps")
app.add_typer(kb_app, name="kb")
out = Console()
log = logging.getLogger("flywheel")

def _operator(name: str) -> str:
    """The local shell is trusted: a CLI user acts as the operator (roles and the model-call budget are for
    Slack users; whoever can run `flywheel` can open the database anyway). The name is kept for the audit."""
    from bot.services.permissions import operator

    return operator(name) if name else name


UserOpt = Annotated[str, typer.Option("--user", "-u", help="who is acting (default: your login)",
                                      callback=_operator)]


def _user() -> str:
    try:
        return _operator(getpass.getuser())
    except Exception:  # noqa: BLE001 - no login name in some containers
        return _operator("cli")


def services(**overrides: object):  # type: ignore[no-untyped-def]
    from bot.services import build_services

    return build_services(Settings(**overrides))  # type: ignore[arg-type]


# --- setup and data -----------------------------------------------------------------------------
@app.command()
def init() -> None:
    """Create or upgrade the database schema."""
    svc = services()
    out.print(f"Database ready ({svc.engine.url.render_as_string(hide_password=True)}); model: {svc.llm.name}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL (one conversation a line) or CSV (one message a row)")],
    source: Annotated[str, typer.Option(help="source name for ids without one")] = "import",
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl or csv")] = "auto",
) -> None:
    """Import conversations (idempotent, streaming). Exit code 3 when some lines were bad (the rest is kept)."""
    from bot.services.importer import import_file

    report = render.with_progress(out, f"Importing {file.name}", lambda cb: import_file(
        services(), file, source=source, fmt=fmt, progress=cb))  # type: ignore[arg-type]
    render.import_report(out, report)
    if report.bad_lines:
        raise typer.Exit(3)


@app.command()
def sample(
    day: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD (default: today)")] = None,
    size: Annotated[Optional[int], typer.Option(help="conversations to pick")] = None,
    channel: Annotated[str, typer.Option(help="the review channel the sample is for")] = "cli",
) -> None:
    """Pick the day's review sample (risk-ranked plus a random share); the same day gives the same sample."""
    from bot.services.sampling import create_sample

    svc = services()
    the_day = dt.date.fromisoformat(day) if day else svc.clock().date()
    _, items = create_sample(svc, day=the_day, channel=channel, size=size)
    render.sample(out, the_day, items)


# --- gaps ---------------------------------------------------------------------------------------
@gaps_app.command("list")
def gaps_list(
    all_: Annotated[bool, typer.Option("--all", help="include closed gaps")] = False,
    mine: Annotated[bool, typer.Option(help="only gaps you own")] = False,
    user: UserOpt = "",
) -> None:
    """List open gaps (or all)."""
    from bot.services.gaps import list_gaps

    states = list(GapState) if all_ else [GapState.OPEN, GapState.DRAFTING, GapState.FAILED]
    render.gap_list(out, list_gaps(services(), states=states, owner=(user or _user()) if mine else None))


@gaps_app.command("show")
def gaps_show(gap_id: int) -> None:
    """Show a gap: its conversation, outline, draft, notes and history."""
    from bot.services.insight import gap_detail

    render.gap_detail(out, gap_detail(services(), gap_id))


@gaps_app.command("flag")
def gaps_flag(
    conversation: Annotated[str, typer.Argument(help="conversation id or external id")],
    turn: Annotated[Optional[int], typer.Option(help="position of the agent turn that fell short")] = None,
    kind: Annotated[GapKind, typer.Option(help="missing, unclear, contradictory or stale")] = GapKind.MISSING,
    join: Annotated[Optional[int], typer.Option(help="join this existing gap instead")] = None,
    new: Annotated[bool, typer.Option("--new", help="open a new gap even if it matches one")] = False,
    user: UserOpt = "",
) -> None:
    """Flag a knowledge gap on a conversation."""
    from bot.services.conversations import resolve
    from bot.services.gaps import flag

    svc = services()
    result = flag(svc, conversation_id=resolve(svc, conversation), user=user or _user(), position=turn, kind=kind,
                  on_match=join if join is not None else ("new" if new else "ask"))
    render.flag_result(out, result)


@gaps_app.command("ok")
def gaps_ok(conversation: str, user: UserOpt = "") -> None:
    """Mark a sampled conversation as reviewed with no gap."""
    from bot.services.conversations import resolve
    from bot.services.gaps import mark_looks_good

    svc = services()
    mark_looks_good(svc, conversation_id=resolve(svc, conversation), user=user or _user())
    out.print("Marked as reviewed: looks good.")


@gaps_app.command("note")
def gaps_note(gap_id: int, text: str, user: UserOpt = "") -> None:
    """Add a teammate's note (a fact, a correction, a link) to a gap."""
    from bot.services.gaps import add_note

    add_note(services(), gap_id=gap_id, author=user or _user(), text=text)
    out.print(f"Note added to gap #{gap_id}.")


@gaps_app.command("turn")
def gaps_turn(gap_id: int, position: int, user: UserOpt = "") -> None:
    """Change which agent turn fell short."""
    from bot.services.gaps import set_flagged_turn

    set_flagged_turn(services(), gap_id=gap_id, position=position, user=user or _user())
    out.print(f"Gap #{gap_id} now points at turn {position}.")


@gaps_app.command("dismiss")
def gaps_dismiss(gap_id: int, reason: Annotated[str, typer.Option()] = "", user: UserOpt = "") -> None:
    """Dismiss a gap (not a knowledge problem, or a duplicate)."""
    from bot.services.gaps import dismiss

    dismiss(services(), gap_id=gap_id, user=user or _user(), reason=reason)
    out.print(f"Gap #{gap_id} dismissed.")


@gaps_app.command("reopen")
def gaps_reopen(gap_id: int, user: UserOpt = "") -> None:
    """Reopen a dismissed gap."""
    from bot.services.gaps import reopen

    reopen(services(), gap_id=gap_id, user=user or _user())
    out.print(f"Gap #{gap_id} reopened.")


# --- authoring ----------------------------------------------------------------------------------
@app.command()
def outline(gap_id: int, user: UserOpt = "") -> None:
    """Suggest an article outline for a gap (the LLM, or the offline provider)."""
    from bot.services.authoring import suggest_outline

    render.outline(out, suggest_outline(services(), gap_id=gap_id, user=user or _user()))


@app.command()
def draft(
    gap_id: int,
    title: Annotated[Optional[str], typer.Option(help="your own title (with --body-file: a manual edit)")] = None,
    body_file: Annotated[Optional[Path], typer.Option(help="Markdown file with your edited body")] = None,
    user: UserOpt = "",
) -> None:
    """Write a draft from the outline and the notes, or save your edit of it."""
    from bot.services.authoring import edit_draft, latest_draft, write_draft

    svc = services()
    if body_file or title:
        with svc.session() as s:
            current = latest_draft(s, gap_id)
        body = body_file.read_text(encoding="utf-8") if body_file else (current.body if current else "")
        row = edit_draft(svc, gap_id=gap_id, title=title or (current.title if current else ""), body=body,
                         user=user or _user())
    else:
        row = write_draft(svc, gap_id=gap_id, user=user or _user())
    render.draft(out, row)


@app.command()
def publish(gap_id: int, user: UserOpt = "") -> None:
    """Publish the gap's latest draft to the KB, replay the conversation and show the verdict. A gap that is
    already published (its verdict was lost) is verified again instead, as the Slack button does."""
    from bot.services.authoring import publish_or_verify

    result = publish_or_verify(services(), gap_id=gap_id, user=user or _user())
    if result.verified_instead:
        out.print(f"Gap #{gap_id} is already published (article #{result.article_id}); verified it again instead.")
        render.replay(out, result.outcome)
        out.print(f"Gap #{gap_id} is now [bold]{result.state}[/].")
        return
    render.publish(out, result)


@app.command("replay")
def replay_cmd(
    conversation: Annotated[Optional[str], typer.Argument(help="conversation to replay")] = None,
    gap: Annotated[Optional[int], typer.Option(help="replay a gap's conversation and judge it")] = None,
    shadow: Annotated[bool, typer.Option(help="with --gap: test the draft in a shadow KB (nothing published)")] = False,
    user: UserOpt = "",
) -> None:
    """Replay a conversation against the agent and the current KB."""
    from bot.services.authoring import shadow_test, verify
    from bot.services.conversations import resolve
    from bot.services.replay import replay

    svc = services()
    if gap is not None and shadow:
        outcome = shadow_test(svc, gap_id=gap, user=user or _user())
    elif gap is not None:
        outcome, _ = verify(svc, gap_id=gap, user=user or _user())
    elif conversation:
        outcome = replay(svc, conversation_id=resolve(svc, conversation), with_judge=False, actor=user or _user())
    else:
        raise FlywheelError("Name a conversation, or a gap with --gap.")
    render.replay(out, outcome)


@app.command()
def regress(user: UserOpt = "") -> None:
    """Replay every regression case (bounded concurrency) and report any that broke."""
    from bot.services.regression import run_regressions

    results = render.with_count(out, "Regression suite", lambda cb: run_regressions(
        services(), actor=user or _user(), on_result=cb))
    render.regressions(out, results)
    if any(r.broke for r in results):
        raise typer.Exit(4)


@app.command()
def stats(
    weeks: Annotated[int, typer.Option(min=1, max=52)] = 6,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    chart: Annotated[Optional[Path], typer.Option(help="write the PNG chart here")] = None,
) -> None:
    """Weekly loop stats: reviewed, flagged → verified, time to fix, backlog, gap rate with its 95% interval."""
    from bot.services.stats import weekly_stats

    svc = services()
    report = weekly_stats(svc, now=svc.clock(), weeks=weeks)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        out.print(report.to_text())
    if chart:
        from bot.services.chart import render_chart

        render_chart(report, chart)
        out.print(f"Chart written to {chart}")


# --- knowledge base -----------------------------------------------------------------------------
@kb_app.command("add")
def kb_add(title: str, body_file: Path, tags: Annotated[str, typer.Option(help="comma-separated")] = "",
           user: UserOpt = "") -> None:
    """Add an article (or a new version of the one with the same title's slug)."""
    from bot.text import slugify

    svc = services()
    with svc.session() as s:
        article, changed = svc.kb.save(s, title=title, body=body_file.read_text(encoding="utf-8"),
                                       tags=[t.strip() for t in tags.split(",") if t.strip()], author=user or _user(),
                                       slug=slugify(title))
        out.print(f"Article #{article.id} {article.slug} v{article.version}" + ("" if changed else " (unchanged)"))


@kb_app.command("search")
def kb_search(query: str, k: Annotated[int, typer.Option(min=1, max=50)] = 5) -> None:
    """Search the KB (BM25 on SQLite, full text on PostgreSQL)."""
    render.hits(out, services().kb.search(query, k))


@kb_app.command("list")
def kb_list() -> None:
    """List the KB's articles."""
    svc = services()
    with svc.session() as s:
        render.articles(out, svc.kb.list(s))


@kb_app.command("import")
def kb_import(folder: Path, user: UserOpt = "") -> None:
    """Import a folder of Markdown files (front matter optional); unchanged files add no version."""
    from bot.kb.markdown import import_folder

    svc = services()
    with svc.session() as s:
        report = import_folder(svc.kb, s, folder, author=user or _user())
    out.print(f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}")
    for err in report.errors:
        out.print(f"[yellow]skipped[/] {err}")
    if report.errors:
        raise typer.Exit(3)


@kb_app.command("export")
def kb_export(folder: Path) -> None:
    """Export the KB as Markdown files with front matter."""
    from bot.kb.markdown import export_folder

    svc = services()
    with svc.session() as s:
        n = export_folder(svc.kb, s, folder)
    out.print(f"{n} articles written to {folder}")


@app.command()
def demo(workdir: Annotated[Path, typer.Option(help="where the demo database and chart go")] = Path(".demo")) -> None:
    """Run the whole loop offline on bundled data: import → sample → flag → outline → draft → test →
    publish → verdict → regression → stats."""
    from bot.demo import run_demo

    run_demo(out, workdir)


EDGE_COMMANDS = ("bot.cli_slack", "bot.cli_eval", "bot.cli_integrations", "bot.cli_insights")


def _register_edge_commands() -> None:
    """Commands that live with their edge: `digest`/`serve`/`run` (Slack), `eval`, connectors."""
    import importlib

    for name in EDGE_COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app, services)


_register_edge_commands()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except FlywheelError as exc:
        Console(stderr=True).print(f"[red]Error:[/] {exc.message}")
        sys.exit(1)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "?" for e in exc.errors())
        Console(stderr=True).print(f"[red]Invalid settings or input:[/] {fields}. See .env.example.")
        sys.exit(2)


if __name__ == "__main__":
    main()
