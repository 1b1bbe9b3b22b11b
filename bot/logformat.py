"""FLYWHEEL_LOG_FORMAT=json: one JSON object per log line (for log shippers), set up by `flywheel serve`
and `flywheel run`. The fields are those of the text format (time, level, logger, message, traceback):
messages carry ids only, never conversation text, tokens or keys, whatever the format."""

from __future__ import annotations

import datetime as dt
import json
import logging

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def use_log_format(fmt: str) -> None:
    """Give the root logger's handlers the chosen format ("text" or "json"); add one if there is none."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter = JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler:  # the console; not pytest's or the metrics' handlers
            handler.setFormatter(formatter)
