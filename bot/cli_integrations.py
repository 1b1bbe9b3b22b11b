"""`flywheel pull SOURCE`: the connectors' edge of the command line (docs/INTEGRATIONS.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from bot.errors import FlywheelError

out = Console()
err = Console(stderr=True)


def _list(lines: list[str], title: str) -> None:
    out.print(title, highlight=False)
    for line in lines[:20]:
        out.print(f"  - {escape(line)}", highlight=False)
    if len(lines) > 20:
        out.print(f"  … and {len(lines) - 20} more", highlight=False)


def register(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    """Add the connector commands to the `flywheel` CLI."""

    @app.command()
    def pull(
        source: Annotated[str, typer.Argument(help="zendesk, intercom, or an installed flywheel.sources plug-in")],
        tag: Annotated[list[str] | None, typer.Option(
            "--tag", help="keep only conversations with this tag (repeat for any of several); default "
            "FLYWHEEL_PULL_TAGS")] = None,
        brand: Annotated[list[str] | None, typer.Option(
            "--brand", help="Zendesk: keep only tickets of this brand id (repeatable); default FLYWHEEL_PULL_BRAND")
        ] = None,
        ai_only: Annotated[bool | None, typer.Option(
            "--ai-only/--all-conversations", help="keep only conversations the AI agent took part in; default "
            "FLYWHEEL_PULL_AI_ONLY")] = None,
    ) -> None:
        """Pull new and updated finished conversations from a source now (incremental: resumes where the last
        pull stopped; a stored conversation that came back with new messages or a rating is updated). Exit code
        3 when some conversations could not be imported or the source refused them (the rest is kept); 75 when
        another pull of the same source is running (this one does nothing)."""
        from bot.integrations.sources import PullBusy, PullFilter, build_source
        from bot.integrations.sources import pull as run_pull
        from bot.services.locks import EXIT_BUSY

        try:
            svc = services_factory()
            filters = PullFilter.from_settings(svc.integrations, tags=tag, brands=brand, ai_only=ai_only)
            report = run_pull(svc, build_source(source, svc.integrations, filters=filters), filters=filters)
        except PullBusy as exc:
            err.print(escape(exc.message), highlight=False)
            raise typer.Exit(EXIT_BUSY) from None
        except FlywheelError as exc:
            err.print(f"[red]Error:[/] {escape(exc.message)}", highlight=False)
            raise typer.Exit(1) from None
        out.print(f"Pulled from {escape(report.source)}: {report.added} new conversations, {report.updated} "
                  f"updated, {report.skipped} already stored, {report.filtered} filtered out, {len(report.bad)} "
                  f"not imported ({report.batches} batches).", highlight=False)
        if report.refused:
            _list(report.refused, f"{len(report.refused)} skipped because {escape(report.source)} refused them "
                                  "(the others were pulled):")
        if report.bad:
            _list(report.bad, f"{len(report.bad)} not imported:")
        if report.bad or report.refused:
            raise typer.Exit(3)
