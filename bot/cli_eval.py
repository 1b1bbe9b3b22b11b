"""`flywheel eval`: measure whether the loop finds and fixes knowledge gaps, on MTRAG-format tasks;
`flywheel eval judge --export FILE`: the verdicts people overruled, for calibrating the judge;
`flywheel verdict override RUN`: a person's verdict beside the judge's."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.errors import FlywheelError, InvalidInput

EXIT_BAD_INPUT = 2  # the data or task file cannot be used: nothing was evaluated


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.1%})" if whole else "n/a"


def render(out: Console, report: Any) -> None:
    table = Table(title=f"Loop evaluation: {escape(Path(report.data).name)} (provider: {escape(report.provider)})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    n, una = report.answerable_evaluated, report.unanswerable_evaluated
    rows = [
        ("tasks selected / in file", f"{report.tasks_selected} / {report.tasks_in_file}"),
        ("KB articles (gold passages)", str(report.kb_articles)),
        ("answerable tasks evaluated", str(n)),
        ("gaps detected (FAIL before the article)", _pct(report.gaps_detected, n)),
        ("gaps fixed (PASS after publishing)", _pct(report.gaps_fixed, report.gaps_detected)),
        ("after publishing, agent still did not know", _pct(report.still_declined_after, n)),
        ("publishes that changed another turn's answer", _pct(report.publishes_changed_other_turns, n)),
        ("  of which made another turn worse (collateral)", _pct(report.publishes_with_collateral, n)),
        ("judge passes the reference answer", _pct(report.reference_passed, n)),
        ("outlines without required facts", str(report.no_required_facts)),
        ("unanswerable tasks evaluated", str(una)),
        ("agent declined (said it does not know)", _pct(report.declined, una)),
        ("false passes on unanswerable", _pct(report.false_pass, una)),
        ("false passes on a made-up answer", _pct(report.made_up_false_pass, una)),
        ("tasks where the model failed (not counted)", str(report.errors)),
        ("skipped (other answerability)", ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())) or "0"),
    ]
    if report.loop:
        loop = report.loop
        rows += [
            (f"one loop turn, wall (mean of {loop.turns})", f"{loop.seconds * 1000:.0f} ms"),
            ("  of which inside LLM calls", f"{loop.llm_seconds * 1000:.0f} ms ({loop.llm_calls:.1f} calls)"),
            ("  of which machine time", f"{loop.machine_seconds * 1000:.0f} ms"),
        ]
    rows.append(("eval wall time", f"{report.seconds:.1f} s"))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def register(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    eval_app = typer.Typer(help="Measure the loop (--data) or the judge (`eval judge`).")
    app.add_typer(eval_app, name="eval")
    verdict_app = typer.Typer(help="People overrule the judge.", no_args_is_help=True)
    app.add_typer(verdict_app, name="verdict")
    _register_judge(eval_app, verdict_app, services_factory)

    @eval_app.callback(invoke_without_command=True)
    def eval_(
        ctx: typer.Context,
        data: Annotated[Path | None, typer.Option(help="MTRAG-format reference.jsonl (one task a line)")] = None,
        tasks: Annotated[Path | None, typer.Option(help="file with one task_id a line: evaluate only those")] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="evaluate at most N tasks")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    ) -> None:
        """Does the loop fix gaps? Remove each task's gold passages (the gap), replay and judge (expect FAIL),
        publish an article from them, replay and judge (expect PASS); false passes on unanswerable tasks;
        machine time of one loop turn against time inside LLM calls. Runs in a throwaway database, one task
        at a time (with a real model, ~13 calls a task: start with --limit). Exit code 2 when the data or
        task file cannot be used."""
        from bot.evaluation import run_eval
        from bot.evaluation_data import read_task_ids

        if ctx.invoked_subcommand is not None:
            return
        err = Console(stderr=True)
        if data is None:
            err.print("[red]Error:[/] Name the data with --data FILE (or run `flywheel eval judge --export FILE`).")
            raise typer.Exit(EXIT_BAD_INPUT)
        try:
            ids = read_task_ids(tasks) if tasks is not None else None
            with err.status("Evaluating…") as status:
                done = [0]

                def tick(task_id: str) -> None:
                    done[0] += 1
                    status.update(f"Evaluating… {done[0]} tasks done")

                report = run_eval(services_factory, data, task_ids=ids, limit=limit, on_task=tick)
        except FlywheelError as exc:  # InvalidInput: the files; anything else (the model failed): exit 1
            err.print(f"[red]Error:[/] {escape(exc.message)}", highlight=False)
            raise typer.Exit(EXIT_BAD_INPUT if isinstance(exc, InvalidInput) else 1) from None
        if as_json:
            sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        else:
            render(Console(), report)


def _register_judge(eval_app: typer.Typer, verdict_app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    @eval_app.command("judge")
    def eval_judge(
        export: Annotated[Path | None, typer.Option(help="write the disagreements here as JSONL")] = None,
    ) -> None:
        """The judge against people (verdicts they overrode or confirmed) and against itself (several runs);
        with --export FILE, every verdict a person overruled as one JSON line, for calibrating the prompt."""
        from bot.services.verdicts import export_disagreements, judge_agreement

        svc = services_factory()
        agreement = judge_agreement(svc)
        out = Console()
        if agreement.reviewed:
            out.print(f"Judge agrees with people on {agreement.agreed}/{agreement.reviewed} reviewed verdicts "
                      f"({agreement.agreed / agreement.reviewed:.0%}).", highlight=False)
        else:
            out.print("No verdict has been reviewed by a person yet (`flywheel verdict override RUN`).")
        if agreement.self_agreement is not None:
            out.print(f"Judge self-agreement: {agreement.self_agreement:.0%} over {agreement.self_runs} verdicts "
                      "judged several times.", highlight=False)
        if export is not None:
            try:
                count = export_disagreements(svc, export)
            except OSError as exc:
                Console(stderr=True).print(f"[red]Error:[/] cannot write {escape(str(export))}: "
                                           f"{escape(exc.strerror or type(exc).__name__)}.", highlight=False)
                raise typer.Exit(EXIT_BAD_INPUT) from None
            out.print(f"Wrote {count} disagreement{'s' if count != 1 else ''} to {escape(str(export))}.",
                      highlight=False)

    @verdict_app.command("override")
    def verdict_override(
        run: Annotated[int, typer.Argument(help="the replay run id (shown with each verdict)")],
        verdict: Annotated[str, typer.Option(help="your verdict: pass or fail")],
        reason: Annotated[str, typer.Option(help="why the judge is wrong (kept for calibration)")],
        user: Annotated[str, typer.Option(help="who overrules (default: the operator)")] = "",
    ) -> None:
        """Overrule the judge on one replay run: your verdict is recorded beside the judge's, the gap moves to
        match (pass: failed → verified; fail: verified → failed) and the judge's agreement with people counts it."""
        from bot.cli_common import current_user, operator_name
        from bot.services.verdicts import override_verdict

        result = override_verdict(services_factory(), run_id=run, verdict=verdict, reason=reason,
                                  user=operator_name(user) if user else current_user())
        word = "Confirmed" if result.agrees else "Overruled"
        Console().print(f"{word} the judge on run {result.run_id}: judge {result.judge_verdict}, "
                        f"you {result.human_verdict}. {result.note}", highlight=False, markup=False)
