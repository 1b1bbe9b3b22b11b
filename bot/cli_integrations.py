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


def register(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    """Add the connector commands to the `flywheel` CLI."""

    @app.command()
    def pull(
        source: Annotated[str, typer.Argument(help="zendesk, intercom, or an installed flywheel.sources plug-in")],
    ) -> None:
        """Pull new finished conversations from a source now (incremental: resumes where the last pull
        stopped). Exit code 3 when some conversations could not be imported (the rest is kept)."""
        from bot.integrations.sources import build_source
        from bot.integrations.sources import pull as run_pull

        try:
            svc = services_factory()
            report = run_pull(svc, build_source(source, svc.integrations))
        except FlywheelError as exc:
            err.print(f"[red]Error:[/] {escape(exc.message)}", highlight=False)
            raise typer.Exit(1) from None
        out.print(f"Pulled from {escape(report.source)}: {report.added} new conversations, {report.skipped} "
                  f"already stored, {len(report.bad)} not imported ({report.batches} batches).", highlight=False)
        for line in report.bad[:20]:
            out.print(f"  - {escape(line)}", highlight=False)
        if len(report.bad) > 20:
            out.print(f"  … and {len(report.bad) - 20} more", highlight=False)
        if report.bad:
            raise typer.Exit(3)
