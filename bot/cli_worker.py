"""`flywheel worker`: run the queued jobs (outline, draft, shadow test, publish and verdict, regression cases) on
PostgreSQL, as many processes on as many machines as you like (docs/ARCHITECTURE.md, "Work queue").

SIGTERM or Ctrl-C: no new job starts, the running ones finish, then the process exits 0. A worker killed
outright stops sending heartbeats, and another worker retries its jobs (`bot/queue/pg.py`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Annotated, Any

import typer

from bot.cli_slack import _fail, _verbose, out
from bot.errors import ConfigError, FlywheelError


def register(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    @app.command()
    def worker(
        concurrency: Annotated[int | None, typer.Option(
            min=1, max=64, help="jobs at once in this process (default: FLYWHEEL_QUEUE_WORKERS)")] = None,
    ) -> None:
        """Run queued jobs until SIGTERM (PostgreSQL; on SQLite `serve`/`run` run them in-process)."""
        from bot.kb.startup import start_search
        from bot.queue import Runtime, is_postgres
        from bot.queue.pg import ensure_schema, run_worker
        from bot.services.claims import release_process_claims

        try:
            svc = services_factory()
            if not is_postgres(svc.settings.database_url):
                raise ConfigError("flywheel worker needs PostgreSQL (DATABASE_URL=postgresql+psycopg://…). On SQLite, "
                                  "`flywheel serve` and `flywheel run` run the jobs themselves.")
            ensure_schema(svc.settings.database_url)
            start_search(svc.kb, svc.settings)  # the KB index built in a background thread; the re-ranker
        except FlywheelError as exc:
            raise _fail(exc) from exc
        _verbose(svc.settings.log_format)
        n = concurrency or svc.settings.queue_workers
        out.print(f"Flywheel worker running jobs, concurrency {n} (Ctrl-C or SIGTERM to stop)")
        try:
            run_worker(Runtime(svc), n, name=f"{socket.gethostname()[:40]}:{os.getpid()}")
        finally:
            release_process_claims(svc)
        out.print("Stopped.")
