"""Every Block Kit id in one place: `ActionId`, `ViewId`, `InputId`, and the pydantic models carried in
button values / option values / `private_metadata` (`ItemRef`, `GapRef`, `DraftRef`, `JoinRef`,
`NewGapRef`, `TurnRef`, `KindRef`, `TargetRef`, `RetryRef`, `RunRef`, `RollbackRef`, `ThreadMeta`), each with
`.dump()` and `.load(raw)`.

Handlers import them from here. The definitions live in `bot/blocks/ids.py` so that the pure
builders can use them without importing the `handlers` package (its `__init__` imports the
listeners, which import the builders).
"""

from bot.blocks.ids import (
    OPTION_VALUE_MAX,
    VALUE_MAX,
    ActionId,
    DraftRef,
    GapRef,
    InputId,
    InvalidRef,
    ItemRef,
    JoinRef,
    KindRef,
    NewGapRef,
    Ref,
    RetryRef,
    RollbackRef,
    RunRef,
    TargetRef,
    ThreadMeta,
    TurnRef,
    ViewId,
    parse_value,
)

__all__ = [
    "OPTION_VALUE_MAX",
    "VALUE_MAX",
    "ActionId",
    "DraftRef",
    "GapRef",
    "InputId",
    "InvalidRef",
    "ItemRef",
    "JoinRef",
    "KindRef",
    "NewGapRef",
    "Ref",
    "RetryRef",
    "RollbackRef",
    "RunRef",
    "TargetRef",
    "ThreadMeta",
    "TurnRef",
    "ViewId",
    "parse_value",
]
