"""The `flywheel` command line: the whole loop without Slack. A thin edge over the services."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot import render
from bot.cli_common import UserOpt, current_user, operator_name, out, services
from bot.domain import GapState
from bot.errors import FlywheelError

app = typer.Typer(help="Flywheel: review → update → test → repeat, for your AI agent.", no_args_is_help=True)
log = logging.getLogger("flywheel")
_operator, _user = operator_name, current_user  # the names the commands below use


# --- setup and data -----------------------------------------------------------------------------
@app.command()
def init() -> None:
    """Create or upgrade the database schema."""
    svc = services()
    if svc.settings.database_url.startswith("postgresql"):  # the work queue's own schema (procrastinate)
        from bot.queue.pg import ensure_schema

        ensure_schema(svc.settings.database_url)
    out.print(f"Database ready ({svc.engine.url.render_as_string(hide_password=True)}); model: {svc.llm.name}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL (one conversation a line) or CSV (one message a row)")],
    source: Annotated[str, typer.Option(help="source name for ids without one")] = "import",
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl or csv")] = "auto",
) -> None:
    """Import conversations (idempotent, streaming). Exit code 3 when some lines were bad (the rest is kept)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from bot.services.importer import import_file

    try:
        report = render.with_progress(out, f"Importing {file.name}", lambda cb: import_file(
            services(), file, source=source, fmt=fmt, progress=cb))  # type: ignore[arg-type]
    except (OperationalError, InterfaceError) as exc:  # unreachable, or locked by another writer for too long
        name = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__  # never its text: the data
        raise FlywheelError(f"The database stopped the import ({name}). The conversations written before it are "
                            "kept: run the same import again, and those already stored are skipped.") from None
    render.import_report(out, report)
    if report.bad_lines:
        raise typer.Exit(3)


@app.command()
def sample(
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today)")] = None,
    size: Annotated[int | None, typer.Option(help="conversations to pick")] = None,
    channel: Annotated[str, typer.Option(help="the review channel the sample is for")] = "cli",
) -> None:
    """Pick the day's review sample (risk-ranked plus a random share); the same day gives the same sample."""
    from bot.services.sampling import create_sample

    svc = services()
    the_day = dt.date.fromisoformat(day) if day else svc.clock().date()
    _, items = create_sample(svc, day=the_day, channel=channel, size=size)
    render.sample(out, the_day, items)


# --- authoring ----------------------------------------------------------------------------------
@app.command()
def outline(gap_id: int, user: UserOpt = "") -> None:
    """Suggest an article outline for a gap (the LLM, or the offline provider)."""
    from bot.services.authoring import suggest_outline

    render.outline(out, suggest_outline(services(), gap_id=gap_id, user=user or _user()))


@app.command()
def draft(
    gap_id: int,
    title: Annotated[str | None, typer.Option(help="your own title (with --body-file: a manual edit)")] = None,
    body_file: Annotated[Path | None, typer.Option(help="Markdown file with your edited body")] = None,
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
def publish(
    gap_id: int,
    draft: Annotated[int | None, typer.Option(help="publish this draft only (refused if a newer one exists)")] = None,
    anyway: Annotated[str | None, typer.Option(help="publish a draft whose shadow test failed or never ran; the "
                                                    "reason is kept in the audit trail")] = None,
    user: UserOpt = "",
) -> None:
    """Publish the gap's draft whose shadow test passed, replay the conversation and show the verdict (exit
    code 4 on a FAIL verdict, 5 when the verification is pending, 75 while another `flywheel publish` of the gap
    runs). A gap that is already published (its verdict was lost or is pending) is verified again instead, as the
    Slack button does. A publish cut short (kill -9) is resumed by the next `flywheel publish` of the gap at once."""
    from bot.services.locks import EXIT_BUSY, Busy, exclusive
    from bot.services.publishing import publish_or_verify

    svc = services()
    try:  # one CLI publish of a gap at a time, so the next one may resume an attempt its token names (a dead one's)
        result = exclusive(svc, f"publish:{gap_id}", lambda _run: publish_or_verify(
            svc, gap_id=gap_id, user=user or _user(), draft_id=draft, anyway=anyway, job_token=f"cli-publish:{gap_id}"),
            what=f"A `flywheel publish {gap_id}`")
    except Busy as exc:
        Console(stderr=True).print(escape(exc.message), highlight=False)
        raise typer.Exit(EXIT_BUSY) from None
    if result.verified_instead:
        out.print(f"Gap #{gap_id} is already published (article #{result.article_id}); verified it again instead.")
    else:
        out.print(f"Published article #{result.article_id} v{result.article_version}: {escape(result.article_title)}")
    if result.outcome is not None:
        render.replay(out, result.outcome)
    if result.pending:
        out.print(f"[yellow]{escape(result.pending)}[/]")
    out.print(f"Gap #{gap_id} is now [bold]{result.state}[/].")
    if result.after_fail:
        out.print(escape(result.after_fail))
    if result.regressions:
        render.regressions(out, result.regressions)
    if result.state == GapState.FAILED.value:
        raise typer.Exit(4)
    if result.outcome is None:
        raise typer.Exit(5)  # published, verification pending: no verdict yet


@app.command("replay")
def replay_cmd(
    conversation: Annotated[str | None, typer.Argument(help="conversation to replay")] = None,
    gap: Annotated[int | None, typer.Option(help="replay a gap's conversation and judge it")] = None,
    shadow: Annotated[bool, typer.Option(help="with --gap: test the draft in a shadow KB (nothing published)")] = False,
    user: UserOpt = "",
) -> None:
    """Replay a conversation against the agent and the current KB."""
    from bot.services.authoring import shadow_test
    from bot.services.conversations import resolve
    from bot.services.replay import replay
    from bot.services.verification import verify

    svc = services()
    if gap is not None and shadow:
        outcome = shadow_test(svc, gap_id=gap, user=user or _user())
    elif gap is not None:
        checked = verify(svc, gap_id=gap, user=user or _user())
        if checked.outcome is None:
            raise FlywheelError(checked.pending or f"Gap #{gap} could not be verified now.")
        outcome = checked.outcome
    elif conversation:
        outcome = replay(svc, conversation_id=resolve(svc, conversation), with_judge=False, actor=user or _user())
    else:
        raise FlywheelError("Name a conversation, or a gap with --gap.")
    render.replay(out, outcome)


@app.command()
def demo(workdir: Annotated[Path, typer.Option(help="where the demo database and chart go")] = Path(".demo")) -> None:
    """Run the whole loop offline on bundled data: import → sample → flag → outline → draft → test →
    publish → verdict → regression → stats."""
    from bot.demo import run_demo

    run_demo(out, workdir)


EDGE_COMMANDS = ("bot.cli_gaps", "bot.cli_kb", "bot.cli_regress", "bot.cli_slack", "bot.cli_eval",
                 "bot.cli_integrations", "bot.cli_insights", "bot.doctor", "bot.cli_worker")


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
        Console(stderr=True).print(f"[red]Error:[/] {escape(exc.message)}")
        sys.exit(1)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "?" for e in exc.errors())
        Console(stderr=True).print(f"[red]Invalid settings or input:[/] {escape(fields)}. See .env.example.")
        sys.exit(2)


if __name__ == "__main__":
    main()
