"""Worker scaling: the regression suite fanned out over `flywheel worker` processes on PostgreSQL (one queued
job per case, `regression.fan_out`), with 1, 2 and 4 workers of concurrency 1, against an HTTP agent served
here that answers after a fixed LATENCY. Measured from the first job queued to the last result gathered, the
workers already running. Goal: 2 workers >= 1.8x the throughput of one, 4 workers >= 3.2x.

Also measured: the CPU each case costs in the worker processes (utime + stime from /proc, read before and after
the suite) and in this process (the gatherer), to tell whether 4 workers are CPU-bound on the machine; and one
run with a 1 s agent (closer to a real agent), compared with the ideal one worker (one case per LATENCY)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import Result, database, dispose, ms, pg_available, services

NAME = "worker_scaling"
CASES, LATENCY = 80, 0.200
WORKERS = (1, 2, 4)
SLOW = (1.0, 4)  # (agent latency, workers) of the closer-to-real row
GOALS = {2: 1.8, 4: 3.2}
ROOT = Path(__file__).resolve().parent.parent


class _Agent(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(getattr(self.server, "latency", LATENCY))
        body = json.dumps({"answer": "The parcel ships within two days."}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _make_cases(svc: Any) -> None:
    from bot.services.importer import import_records
    from storage.models import Conversation, Gap, RegressionCase

    rows = [(i + 1, {"id": f"conv-{i}", "messages": [
        {"role": "user", "text": f"When does parcel {i} ship?"},
        {"role": "agent", "text": "The parcel ships within two days."}]}) for i in range(CASES)]
    import_records(svc, rows, source="bench")
    now = dt.datetime.now(dt.UTC)
    from sqlalchemy import select

    with svc.session() as s:
        for cid in s.scalars(select(Conversation.id).order_by(Conversation.id)).all():
            gap = Gap(state="verified", kind="missing", conversation_id=cid, flagged_position=1, flagged_by="bench",
                      owner="bench", flagged_at=now, updated_at=now, verified_at=now)
            s.add(gap)
            s.flush()
            s.add(RegressionCase(gap_id=gap.id, conversation_id=cid, flagged_position=1,
                                 required_facts=["The parcel ships within two days."], active=True,
                                 last_verdict="pass", created_at=now))


def _worker(url: str, agent_url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "SLACK_", "OPENAI_", "DATABASE_"))}
    env.update(DATABASE_URL=url, FLYWHEEL_LLM_PROVIDER="offline", FLYWHEEL_AGENT="http", FLYWHEEL_AGENT_URL=agent_url,
               PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", FLYWHEEL_QUEUE_HEARTBEAT="2")
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--concurrency", "1"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or re.search("Flywheel worker running jobs", line):
            break
    threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()  # drain the pipe
    return proc


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _suite(svc: Any, url: str, agent_url: str, n: int) -> tuple[float, int, float, float]:
    """(wall seconds, cases run, worker CPU seconds, gatherer CPU seconds) of one suite."""
    from bot.queue.pg import PgQueue
    from bot.services.regression import run_regressions

    procs = [_worker(url, agent_url) for _ in range(n)]
    try:
        time.sleep(1.0)  # every worker has registered and is listening
        svc.queue = PgQueue(url, svc.settings)
        cpu0, own0 = sum(_cpu(p.pid) for p in procs), time.process_time()
        start = time.perf_counter()
        results = run_regressions(svc, actor=None)
        wall = time.perf_counter() - start
        cpu, own = sum(_cpu(p.pid) for p in procs) - cpu0, time.process_time() - own0
        svc.queue.close()
        svc.queue = None
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    return wall, sum(r.error is None for r in results), cpu, own


def run(result: Result) -> None:
    if not pg_available():
        result.notes.append(f"{NAME}: skipped, PostgreSQL is not reachable (BENCH_POSTGRES_URL).")
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Agent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    agent_url = f"http://127.0.0.1:{server.server_address[1]}/answer"
    runs: dict[tuple[float, int], tuple[float, float, float]] = {}  # (latency, workers) -> (wall, cpu, own cpu)
    try:
        for latency, n in [(LATENCY, w) for w in WORKERS] + [SLOW]:
            server.latency = latency  # type: ignore[attr-defined]
            with database("postgresql") as url:
                from bot.queue.pg import ensure_schema

                svc = services(url)
                ensure_schema(url)
                _make_cases(svc)
                try:
                    wall, ran, cpu, own = _suite(svc, url, agent_url, n)
                finally:
                    dispose(svc)
                runs[(latency, n)] = (wall, cpu, own)
                if ran != CASES:
                    result.notes.append(f"{NAME}: {n} worker(s), agent {ms(latency)}: ran {ran}/{CASES} cases.")
    finally:
        server.shutdown()
        server.server_close()
    base = CASES / runs[(LATENCY, 1)][0]
    for (latency, n), (wall, cpu, own) in runs.items():
        throughput = CASES / wall
        per_case = f"; CPU/case {cpu / CASES * 1000:.0f} ms in workers + {own / CASES * 1000:.0f} ms gathering"
        if latency == LATENCY:
            ratio, goal = throughput / base, GOALS.get(n)
            result.add(f"regression suite, {CASES} cases, agent {ms(latency)}/answer, {n} worker(s) (postgresql)",
                       f"{throughput:.2f} cases/s ({ms(wall)}){per_case}", f"1 worker {base:.2f} cases/s", ratio,
                       f">= {goal}x" if goal else "baseline", ratio >= goal if goal else None, bench=NAME)
        else:  # against the ideal single worker: one case per agent answer
            ideal = 1 / latency
            result.add(f"regression suite, {CASES} cases, agent {ms(latency)}/answer, {n} worker(s) (postgresql)",
                       f"{throughput:.2f} cases/s ({ms(wall)}){per_case}", f"ideal 1 worker {ideal:.2f} cases/s",
                       throughput / ideal, f">= {GOALS[4]}x", throughput / ideal >= GOALS[4], bench=NAME)
    wall4, cpu4, own4 = runs[(LATENCY, 4)]
    busy = (cpu4 + own4) / wall4
    result.notes.append(
        f"{NAME}: ideal with one worker {ms(CASES * LATENCY)} (the agent's time alone); each worker runs one case at "
        f"a time (`flywheel worker --concurrency 1`). With 4 workers and a {ms(LATENCY)} agent the workers and the "
        f"gatherer used {busy:.2f} CPUs of the machine's {os.cpu_count()} (PostgreSQL not counted).")
