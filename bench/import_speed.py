"""JSONL import (`import_file`: parse, validate, risk score, idempotent insert) against a raw SQLAlchemy Core
`executemany` of the same rows into the same tables (same batches of 500 conversations a transaction, no
parsing or validation). Target: >= 0.5 of the raw throughput.

Peak memory: a fresh subprocess imports a ~20 MB and a ~100 MB file (scaled down from 100 MB / 1 GB to fit
the time budget) and reports its own peak RSS; streaming means the ratio stays ~1."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result, database, dispose, ms, pg_available, services

NAME = "import_speed"
THROUGHPUT_MB, SMALL_MB, LARGE_MB = 10, 20, 100
BATCH = 500
WORDS = ("refund order parcel card account password delivery invoice plan upgrade warranty store return "
         "shipping address payment label discount subscription invoice tracking support manager email "
         "phone days business week price charge balance credit debit transfer bank branch").split()


def write_jsonl(path: Path, megabytes: int, seed: int = 7) -> int:
    """Conversations of 3-7 messages (~1 KB a conversation) until the file reaches the size."""
    rng, target, n = random.Random(seed), megabytes * 1_000_000, 0
    with path.open("w", encoding="utf-8") as f:
        while f.tell() < target:
            messages = []
            for k in range(rng.randint(3, 7)):
                role = "user" if k % 2 == 0 else rng.choice(("agent", "agent", "agent", "human"))
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."
                messages.append({"role": role, "text": text, "timestamp": 1_763_600_000 + 60 * k})
            meta = {"resolved": rng.random() < 0.8, "escalated": rng.random() < 0.1, "csat": rng.randint(1, 5)}
            f.write(json.dumps({"id": f"conv-{n}", "source": "bench", "channel": "web", "metadata": meta,
                                "messages": messages}) + "\n")
            n += 1
    return n


def _importer(url: str, path: Path) -> tuple[float, int]:
    from bot.services.importer import import_file

    svc = services(url)
    try:
        start = time.perf_counter()
        report = import_file(svc, path, source="bench", batch_size=BATCH)
        return time.perf_counter() - start, report.conversations_added
    finally:
        dispose(svc)


def _raw(url: str, path: Path) -> tuple[float, int]:
    """The same rows (parsed beforehand, untimed) through plain Core executemany, explicit ids."""
    import datetime as dt

    from sqlalchemy import insert

    from bot.services.importer import _parse
    from storage.models import Conversation, Message

    now = dt.datetime.now(dt.UTC)
    parsed = []
    with path.open(encoding="utf-8") as f:
        for cid, line in enumerate(f, 1):
            conv, messages = _parse(json.loads(line), "bench", now)
            parsed.append(({**conv, "id": cid}, [{**m, "conversation_id": cid} for m in messages]))
    svc = services(url)
    try:
        start = time.perf_counter()
        for i in range(0, len(parsed), BATCH):
            chunk = parsed[i:i + BATCH]
            with svc.engine.begin() as conn:
                conn.execute(insert(Conversation), [c for c, _ in chunk])
                conn.execute(insert(Message), [m for _, ms_ in chunk for m in ms_])
        return time.perf_counter() - start, len(parsed)
    finally:
        dispose(svc)


def _child(path: str) -> None:
    """Run in a fresh process: import into a throwaway SQLite file, print seconds and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds, added = _importer(f"sqlite:///{Path(tmp) / 'mem.db'}", Path(path))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "added": added, "peak_mb": peak}))


def _peak(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.import_speed", "--child", str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(result: Result) -> None:
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-import-") as tmp:
        data = Path(tmp) / "throughput.jsonl"
        n = write_jsonl(data, THROUGHPUT_MB)
        size_mb = data.stat().st_size / 1e6
        backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
        for kind in backends:
            with database(kind) as url:
                t_import, added = _importer(url, data)
            with database(kind) as url:
                t_raw, _ = _raw(url, data)
            ratio = (added / t_import) / (n / t_raw)
            result.add(f"JSONL import throughput, {n:,} conversations / {size_mb:.0f} MB ({kind})",
                       f"{added / t_import:,.0f} conv/s ({size_mb / t_import:.1f} MB/s)",
                       f"raw executemany {n / t_raw:,.0f} conv/s", ratio, ">= 0.5x raw", ratio >= 0.5,
                       bench=NAME)
        small, large = Path(tmp) / "small.jsonl", Path(tmp) / "large.jsonl"
        write_jsonl(small, SMALL_MB, seed=1)
        write_jsonl(large, LARGE_MB, seed=2)
        a, b = _peak(small), _peak(large)
        ratio = b["peak_mb"] / a["peak_mb"]
        result.add(f"peak RSS importing {LARGE_MB} MB vs {SMALL_MB} MB (SQLite, fresh process; "
                   f"{b['added']:,} conv in {ms(b['seconds'])})", f"{b['peak_mb']:.0f} MiB",
                   f"{a['peak_mb']:.0f} MiB at {SMALL_MB} MB", ratio, "flat (<= 1.1x)", ratio <= 1.1, bench=NAME)
        result.notes.append(f"{NAME}: memory measured on {SMALL_MB} MB and {LARGE_MB} MB files, scaled down from "
                            "100 MB / 1 GB to fit the few-minutes budget.")


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--child":
    _child(sys.argv[2])
