"""Front-matter yes/no values (`draft`, `archived`), read the same way by `kb import` and `kb sync markdown`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.errors import InvalidInput

_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def flag_value(meta: dict[str, Any], key: str) -> bool:
    """A front-matter yes/no (`draft`, `archived`; absent: False): a YAML boolean, 1 or 0, or the text true/false,
    yes/no, 1/0 in any case (`draft: "false"` is not a draft). Anything else is refused, never guessed: a guess
    could take a page out of search, or put a draft in it."""
    value = meta.get(key, False)
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAGS:
        return _FLAGS[value.strip().lower()]
    kinds = {type(None): "empty", list: "a list", dict: "a mapping", bytes: "binary", int: "a number",
             float: "a number"}
    what = kinds.get(type(value), "a date" if isinstance(value, dt.date) else "a value of another kind")
    raise InvalidInput(f"{key} must be true or false (or yes/no, 1/0)"
                       + ("" if isinstance(value, str) else f", not {what}"))
