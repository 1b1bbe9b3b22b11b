"""`flywheel` in a subprocess that can be held at a chosen call, to start a second one meanwhile or to kill -9 it
there: deterministic races and crashes without timing.

    proc = HeldCli(["kb", "import", "docs"], env, cwd, hold="bot.kb:KnowledgeBase.save", nth=2)
    proc.wait_held_or_exit()   # True: it is waiting just before its 2nd KnowledgeBase.save call
    proc.kill9() / proc.release(); proc.finish()

The child (`python -m tests.reliability.held_cli ARGS…`) wraps the target before `bot.cli.main()` runs: on its nth
call it writes `<dir>/<name>.held` and waits for `<dir>/<name>.go` (`when=after`: the call has returned first). The
commands import their services inside the command, so a module-level function is found through its module."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WAIT = 90.0  # seconds: a generous bound on a step that takes well under a second (never asserted as timing)


class HeldCli:
    """One `flywheel ARGS` subprocess; output goes to a file (never blocks on a pipe)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, *, name: str, hold: str | None = None,
                 nth: int = 1, when: str = "before") -> None:
        self.name, self.dir = name, cwd
        self.log = cwd / f"{name}.out"
        env = {**env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        if hold:
            env.update(FLYWHEEL_TEST_HOLD=f"{hold}|{nth}|{when}", FLYWHEEL_TEST_HOLD_AT=str(cwd / name))
        with self.log.open("w") as out:
            self.popen = subprocess.Popen([sys.executable, "-m", "tests.reliability.held_cli", *args], cwd=cwd,
                                          env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def held(self) -> bool:
        return (self.dir / f"{self.name}.held").exists()

    def wait_held_or_exit(self) -> bool:
        """Wait until the process is held (True) or has exited without reaching the hold (False)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.held:
                return True
            if self.popen.poll() is not None:
                return self.held
            time.sleep(0.01)
        self.kill9()
        raise AssertionError(f"{self.name} neither held nor exited:\n{self.output}")

    def release(self) -> None:
        (self.dir / f"{self.name}.go").touch()

    def kill9(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(WAIT)

    def finish(self) -> tuple[int, str]:
        """Release it if held, wait for its end: (exit code, output)."""
        self.release()
        try:
            code = self.popen.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"{self.name} did not finish:\n{self.output}") from None
        return code, self.output

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _install_hold(spec: str, at: str) -> None:
    target, nth, when = spec.split("|")
    module_name, _, attr_path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, attr = attr_path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original: Callable[..., Any] = getattr(owner, attr)
    is_static = isinstance(owner.__dict__.get(attr), staticmethod) if isinstance(owner, type) else False
    calls = 0

    def hold() -> None:
        Path(f"{at}.held").touch()
        deadline = time.monotonic() + WAIT
        while not Path(f"{at}.go").exists() and time.monotonic() < deadline:
            time.sleep(0.005)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == int(nth) and when == "before":
            hold()
        result = original(*args, **kwargs)
        if calls == int(nth) and when == "after":
            hold()
        return result

    setattr(owner, attr, staticmethod(wrapper) if is_static else wrapper)


if __name__ == "__main__":
    if os.environ.get("FLYWHEEL_TEST_HOLD"):
        _install_hold(os.environ["FLYWHEEL_TEST_HOLD"], os.environ["FLYWHEEL_TEST_HOLD_AT"])
    from bot.cli import main

    sys.argv = ["flywheel", *sys.argv[1:]]
    main()
