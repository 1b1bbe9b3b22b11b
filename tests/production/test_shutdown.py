"""SIGTERM to a running `flywheel serve`: the request in flight completes, the process exits 0, and the job
claims it held are given back (so the next start resumes them at once). A real subprocess, real signals."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, select

from storage.models import JobClaim
from tests.support.http_client import http
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, command_fields, sign

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _start(tmp_path: Path, slack: MockSlack) -> tuple[subprocess.Popen[str], int, str]:
    db_url = f"sqlite:///{tmp_path / 'flywheel.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "SLACK_", "OPENAI_", "DATABASE_"))}
    env.update(DATABASE_URL=db_url, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=slack.url, FLYWHEEL_LLM_PROVIDER="offline", SLOW_MARKER=str(tmp_path / "slow"),
               PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", COLUMNS="200", FLYWHEEL_LOG_FORMAT="json")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests/production/slow_serve.py")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline, lines = time.monotonic() + 60, []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if found:
            return proc, int(found.group(1)), db_url
    proc.kill()
    pytest.fail("flywheel serve did not start:\n" + "".join(lines))


def test_sigterm_finishes_the_request_in_flight_releases_claims_and_exits_0(tmp_path: Path) -> None:
    with MockSlack() as slack:
        proc, port, db_url = _start(tmp_path, slack)
        try:
            request = sign(urlencode(command_fields("", command="/slow")), secret=SECRET, content_type=FORM)
            answer: dict[str, Any] = {}

            def call() -> None:
                answer["status"], answer["body"] = http(f"http://127.0.0.1:{port}/slack/events", body=request.body,
                                                        headers=request.headers)
                answer["at"] = time.monotonic()

            caller = threading.Thread(target=call)
            caller.start()
            marker = tmp_path / "slow"
            deadline = time.monotonic() + 20
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert marker.exists(), "the slow request never reached its listener"
            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            caller.join(20)
            output, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert answer.get("status") == 200 and answer.get("body") == "done", (answer, output)
    assert answer["at"] > signalled  # it was really in flight when the signal came
    assert proc.returncode == 0, output
    assert "Stopped." in output
    logs = [json.loads(line) for line in output.splitlines() if line.startswith("{")]  # FLYWHEEL_LOG_FORMAT=json
    assert any(entry["logger"] == "bot.lifecycle" and entry["level"] == "INFO"
               and entry["message"] == "stopping on signal=SIGTERM: finishing requests in flight"
               for entry in logs), output
    assert any(entry["logger"] == "bot.services.claims" and "count=1" in entry["message"] for entry in logs), output
    engine = create_engine(db_url)
    with engine.connect() as conn:
        owner, finished = conn.execute(select(JobClaim.owner, JobClaim.finished_at)
                                       .where(JobClaim.job_name == "test-hold")).one()
    engine.dispose()
    assert owner is None and finished is None  # released, not finished: the next start resumes it


def test_sigterm_stops_socket_mode_cleanly_and_releases_claims(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`flywheel run` (Socket Mode): SIGTERM leaves the blocking handler like Ctrl-C, exit 0, claims released."""
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.services.claims import process_owner_prefix
    from storage.db import make_engine, migrate

    class SignalledHandler:
        def __init__(self, *args: object) -> None:
            pass

        def start(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)  # interrupted by the handler
            raise AssertionError("SIGTERM did not stop Socket Mode")

    url = f"sqlite:///{tmp_path / 'flywheel.db'}"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(JobClaim.__table__.insert().values(job_name="regressions", period_key="2026-12-04",
                                                        owner=process_owner_prefix() + "abcd1234",
                                                        claimed_at=dt.datetime.now(dt.UTC)))
    with MockSlack() as slack:
        monkeypatch.chdir(tmp_path)
        for key, value in {"DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-1-test",
                           "SLACK_API_URL": slack.url, "FLYWHEEL_LLM_PROVIDER": "offline"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr("slack_bolt.adapter.socket_mode.SocketModeHandler", SignalledHandler)
        before = signal.getsignal(signal.SIGTERM)
        result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert "Stopping." in result.output and "Stopped." in result.output
    assert signal.getsignal(signal.SIGTERM) == before  # the handlers are restored
    with engine.connect() as conn:
        owner = conn.execute(select(JobClaim.owner).where(JobClaim.job_name == "regressions")).scalar_one()
    engine.dispose()
    assert owner is None
