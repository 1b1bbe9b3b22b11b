"""`flywheel digest`, `flywheel serve` and `flywheel run`: the Slack edge of the command line."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from bot.errors import ConfigError, FlywheelError

log = logging.getLogger("flywheel")
err = Console(stderr=True)
out = Console()


def _fail(exc: FlywheelError) -> typer.Exit:
    err.print(f"[red]Error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _verbose(log_format: str = "text") -> None:
    """The long-running modes log the bot's own INFO lines (ids only, never message text), as text or JSON
    (FLYWHEEL_LOG_FORMAT)."""
    from bot.logformat import use_log_format

    use_log_format(log_format)
    for name in ("bot", "handlers", "flywheel"):
        logging.getLogger(name).setLevel(logging.INFO)


def _start_background(services: Any, client: Any) -> Any:
    """The scheduler in this process, and in a thread: verdicts of publishes cut short by a crash, then a
    one-off catch-up of today's digest."""
    from bot.jobs import build_scheduler
    from bot.slack.digest import catch_up

    scheduler = build_scheduler(services, client)
    scheduler.start()

    def run_catch_up() -> None:
        from bot.services.publishing import resume_verifications

        try:
            resume_verifications(services)  # a publish cut short by a crash gets its verdict now
        except Exception:  # noqa: BLE001 - e.g. the model is down: the next start tries again
            log.exception("resuming verifications failed")
        try:
            catch_up(services, client, now=services.clock())
        except Exception:  # noqa: BLE001 - the bot keeps serving; the log has the traceback
            log.exception("digest catch-up failed")

    threading.Thread(target=run_catch_up, name="flywheel-catch-up", daemon=True).start()
    return scheduler


def register(app: typer.Typer, services_factory: Callable[..., Any]) -> None:
    """Add the Slack commands to the `flywheel` CLI."""

    @app.command()
    def digest(
        day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today)")] = None,
        channel: Annotated[str | None, typer.Option(help="channel ID (default: FLYWHEEL_REVIEW_CHANNEL)")] = None,
    ) -> None:
        """Post the day's digest to the review channel now (once: a rerun posts only what is missing)."""
        from bot.services.digest import local_now
        from bot.slack.client import make_web_client
        from bot.slack.digest import post_digest

        try:
            svc = services_factory()
            target = channel or svc.settings.review_channel
            if not target:
                raise ConfigError("No review channel: set FLYWHEEL_REVIEW_CHANNEL or pass --channel C0123ABC.")
            client = make_web_client(svc.settings)
            the_day = _parse_day(day) if day else local_now(svc, svc.clock()).date()
            result = post_digest(svc, client, day=the_day, channel=target)
        except FlywheelError as exc:
            raise _fail(exc) from exc
        if result.status == "posted":
            out.print(f"Digest for {the_day} posted to {target}: {result.items} conversations, "
                      f"{result.posted} messages sent now.", markup=False, highlight=False)
        elif result.status == "already_posted":
            out.print(f"The digest for {the_day} was already posted to {target}; nothing sent.",
                      markup=False, highlight=False)
        else:
            out.print(f"Another Flywheel process is posting the digest for {the_day} right now; nothing sent.",
                      markup=False, highlight=False)

    @app.command()
    def serve(
        port: Annotated[int, typer.Option(min=0, max=65535, help="port for Slack's requests")] = 3000,
        host: Annotated[str, typer.Option(help="interface to listen on")] = "0.0.0.0",
        with_worker: Annotated[bool | None, typer.Option(
            "--with-worker/--without-worker", help="run queued jobs in this process too (default: "
            "FLYWHEEL_INPROCESS_WORKER; true on SQLite, false on PostgreSQL)")] = None,
    ) -> None:
        """Run the bot over HTTP (Events API at /slack/events, /healthz), with the scheduler and the job queue."""
        from bot.app import create_app
        from bot.kb.startup import start_search
        from bot.server import make_server
        from bot.slack.client import make_web_client

        try:
            svc = services_factory()
            if svc.settings.slack_signing_secret is None:
                raise ConfigError("SLACK_SIGNING_SECRET is not set; HTTP mode needs it to verify Slack's requests.")
            client = make_web_client(svc.settings)
            bolt = create_app(svc.settings, svc, client=client)
            start_search(svc.kb, svc.settings)  # the KB index built in a background thread; the re-ranker
        except FlywheelError as exc:
            raise _fail(exc) from exc
        _verbose(svc.settings.log_format)
        server = make_server(bolt, svc, host, port)
        from bot.queue import start_jobs

        stop_jobs = start_jobs(svc, client, with_worker=with_worker)  # slow work: durable jobs (bot/queue)
        scheduler = _start_background(svc, client)
        from bot.lifecycle import on_stop_signal, stop_background

        restore = on_stop_signal(lambda: server.request_stop())  # SIGTERM/SIGINT: finish requests in flight
        out.print(f"Flywheel listening on http://{host}:{server.server_port}/slack/events (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            out.print("Stopping.")
        finally:
            stop_background(svc, scheduler, stop_jobs=stop_jobs)
            server.server_close()
            restore()
        out.print("Stopped.")

    @app.command()
    def run() -> None:
        """Run the bot over Socket Mode (no public URL needed; SLACK_APP_TOKEN), with the scheduler."""
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        from bot.app import create_app
        from bot.kb.startup import start_search
        from bot.slack.client import make_web_client

        try:
            svc = services_factory()
            if svc.settings.slack_app_token is None:
                raise ConfigError("SLACK_APP_TOKEN is not set; Socket Mode needs an app-level token (xapp-…) "
                                  "with connections:write.")
            client = make_web_client(svc.settings)
            bolt = create_app(svc.settings, svc, client=client)
            start_search(svc.kb, svc.settings)  # the KB index built in a background thread; the re-ranker
        except FlywheelError as exc:
            raise _fail(exc) from exc
        _verbose(svc.settings.log_format)
        from bot.queue import start_jobs

        stop_jobs = start_jobs(svc, client)  # slow work: durable jobs (bot/queue), in-process by default on SQLite
        scheduler = _start_background(svc, client)
        from bot.lifecycle import on_stop_signal, stop_background

        restore = on_stop_signal(_interrupt)  # SIGTERM behaves as Ctrl-C: leave the blocking start()
        out.print("Flywheel connected over Socket Mode (Ctrl-C to stop)")
        try:
            SocketModeHandler(bolt, svc.settings.slack_app_token.get_secret_value()).start()  # type: ignore[no-untyped-call]  # slack_bolt's start() is untyped
        except KeyboardInterrupt:
            out.print("Stopping.")
        finally:
            stop_background(svc, scheduler, stop_jobs=stop_jobs)
            restore()
        out.print("Stopped.")


def _interrupt() -> None:
    raise KeyboardInterrupt


def _parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise FlywheelError(f"--day must be a date like 2026-11-20, not {value!r}.") from exc
