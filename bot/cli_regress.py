"""`flywheel regress`: replay every regression case; the exit code tells a CI job the truth."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bot import render
from bot.cli_common import UserOpt, current_user, out

EXIT_BROKE = 4  # at least one case ran and did not pass
EXIT_COULD_NOT_RUN = 5  # none failed, but at least one case could not run (agent or model down): no verdict


def exit_code(results: Sequence[Any]) -> int:
    if any(r.failing for r in results):
        return EXIT_BROKE
    if any(r.could_not_run for r in results):
        return EXIT_COULD_NOT_RUN
    return 0


def report(results: Sequence[Any], identity: Any) -> None:
    passing = sum(1 for r in results if r.verdict == "pass")
    broke = sum(1 for r in results if r.broke)
    still = sum(1 for r in results if r.failing and not r.broke)
    down = sum(1 for r in results if r.could_not_run)
    line = f"Regression suite: {passing}/{len(results)} passing, {broke} broke"
    line += (f", {still} still failing" if still else "") + (f", {down} could not run" if down else "")
    out.print(line + ".")
    if identity.agent or identity.kb_revision is not None:
        out.print(f"  agent {escape(str(identity.agent))}, model {escape(str(identity.model))}, "
                  f"KB rev {identity.kb_revision}", highlight=False)
    for change in identity.changed:
        out.print(f"  since the previous run: {escape(change)}", highlight=False)
    for r in results:
        if r.could_not_run:
            out.print(f"  [yellow]case {r.case_id} (gap #{r.gap_id}) could not run[/]: {escape(str(r.error))}")
        elif r.failing:
            state = "broke" if r.broke else "still failing"
            out.print(f"  [red]case {r.case_id} (gap #{r.gap_id}) {state}[/]: {escape(str(r.verdict))} — fixed by "
                      f"{escape(str(r.fixed_by))}", highlight=False)
            for change in r.changes:
                out.print(f"    {escape(change)}", highlight=False)
    if down:
        out.print(f"[yellow]{down} case(s) could not run: no verdict for them. Check the agent and the model, "
                  "then run `flywheel regress` again.[/]")


def register(app: typer.Typer, services: Callable[..., Any]) -> None:
    """Add `regress` to the `flywheel` CLI."""

    @app.command()
    def regress(
        junit: Annotated[Path | None, typer.Option(help="also write a JUnit XML report here (for CI)")] = None,
        user: UserOpt = "",
    ) -> None:
        """Replay every regression case (bounded concurrency) and report any that broke, with what changed
        since it last passed (KB, agent version, model). Exit code 0: all pass; 4: a case broke or still
        fails; 5: no case failed but some could not run (agent or model down)."""
        from bot.junit import write_junit
        from bot.services.regression import run_regressions, suite_identity

        svc = services()
        results = render.with_count(out, "Regression suite", lambda cb: run_regressions(
            svc, actor=user or current_user(), on_result=cb))
        identity = suite_identity(svc, results)
        report(results, identity)
        if junit is not None:
            write_junit(junit, results, identity, timestamp=svc.clock())
            out.print(f"JUnit report written to {escape(str(junit))}")
        code = exit_code(results)
        if code:
            raise typer.Exit(code)
