"""`flywheel serve` with two test-only additions, run as a subprocess by test_shutdown.py:

* a slow slash command `/slow` that writes a marker file, sleeps SLOW_SECONDS, then acks "done";
* a background thread holding a job claim (`test-hold`, `p1`) that never finishes, as a scheduled job
  cut short by the shutdown would.

Everything else is the real `flywheel serve` (`bot.cli.main`), configured from the environment.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

SLOW_SECONDS = 2.0


def _with_slow_command(create_app: Any) -> Any:
    def create(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)

        @app.command("/slow")
        def slow(ack: Any) -> None:
            Path(os.environ["SLOW_MARKER"]).write_text("started")
            time.sleep(SLOW_SECONDS)
            ack("done")

        return app

    return create


def _hold_a_claim(held: threading.Event) -> None:
    from bot.services import build_services
    from bot.services.claims import job_claim
    from bot.settings import load_settings

    services = build_services(load_settings())
    with job_claim(services, job="test-hold", period="p1"):
        held.set()
        threading.Event().wait()  # never finishes: the shutdown must give the claim back


def main() -> None:
    import bot.app
    from bot.cli import main as flywheel

    bot.app.create_app = _with_slow_command(bot.app.create_app)
    held = threading.Event()
    threading.Thread(target=_hold_a_claim, args=(held,), name="test-hold", daemon=True).start()
    held.wait(30)
    sys.argv = ["flywheel", "serve", "--host", "127.0.0.1", "--port", "0"]
    flywheel()


if __name__ == "__main__":
    main()
