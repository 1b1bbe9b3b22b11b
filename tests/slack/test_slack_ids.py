from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.errors import InvalidInput
from handlers.ids import (
    ActionId,
    DraftRef,
    GapRef,
    InvalidRef,
    ItemRef,
    JoinRef,
    NewGapRef,
    RetryRef,
    ThreadMeta,
    TurnRef,
    ViewId,
    parse_value,
)

REFS = [
    ItemRef(item_id=7),
    GapRef(gap_id=12),
    DraftRef(gap_id=12, draft_id=3),
    JoinRef(gap_id=12, conversation_id=99, item_id=7),
    JoinRef(gap_id=12, conversation_id=99),
    NewGapRef(conversation_id=99, item_id=7),
    TurnRef(gap_id=12, position=5),
    RetryRef(action=ActionId.WRITE_DRAFT, gap_id=12),
    ThreadMeta(gap_id=12, draft_id=3, channel="C0123ABC", thread_ts="1712345678.000100", then_test=True),
]


@pytest.mark.parametrize("ref", REFS, ids=lambda r: type(r).__name__)
def test_round_trip(ref) -> None:  # type: ignore[no-untyped-def]
    raw = ref.dump()
    assert len(raw) <= 2000
    assert " " not in raw  # compact
    assert type(ref).load(raw) == ref


def test_dump_omits_nulls() -> None:
    assert JoinRef(gap_id=1, conversation_id=2).dump() == '{"gap_id":1,"conversation_id":2}'


@pytest.mark.parametrize(
    "raw",
    [None, "", "not json", "12", '{"gap_id": "twelve"}', '{"gap_id": 0}', '{"gap_id": 1, "extra": 2}', "{}"],
)
def test_load_bad_input_raises_clear_error(raw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRef) as info:
        GapRef.load(raw)
    assert isinstance(info.value, InvalidInput)  # one @app.error handler shows it as user-safe text
    assert "GapRef" in info.value.message
    assert "Try again" in info.value.message


def test_load_rejects_another_models_value() -> None:
    with pytest.raises(InvalidRef):
        DraftRef.load(GapRef(gap_id=3).dump())


def test_thread_meta_validates_slack_ids() -> None:
    with pytest.raises(ValidationError):
        ThreadMeta(channel="#general")
    with pytest.raises(ValidationError):
        ThreadMeta(thread_ts="yesterday")


def test_turn_ref_fits_a_select_option_value() -> None:
    assert len(TurnRef(gap_id=2**31, position=10_000).dump()) <= 150


def test_parse_value_reads_buttons_and_selects() -> None:
    button = {"actions": [{"action_id": "publish", "value": DraftRef(gap_id=1, draft_id=2).dump()}]}
    option = {"value": TurnRef(gap_id=1, position=4).dump()}
    select = {"actions": [{"action_id": "pick_turn", "selected_option": option}]}
    assert parse_value(button, DraftRef) == DraftRef(gap_id=1, draft_id=2)
    assert parse_value(select, TurnRef).position == 4
    with pytest.raises(InvalidRef):
        parse_value({"actions": []}, GapRef)


def test_ids_are_unique_strings() -> None:
    assert len({a.value for a in ActionId}) == len(ActionId)
    assert len({v.value for v in ViewId}) == len(ViewId)
    for expected in ("flag", "looks_good", "show_conversation", "pick_turn", "write_draft", "edit_outline",
                     "dismiss", "edit_draft", "test_draft", "publish", "retry", "join_gap", "new_gap",
                     "edit_and_retry"):
        assert ActionId(expected) == expected


def test_builders_do_not_import_the_handlers_package() -> None:
    """bot.blocks must stay importable on its own: handlers/__init__ imports the listeners, which
    import bot.blocks, so a builder importing `handlers.ids` would be an import cycle."""
    code = "import sys, bot.blocks; print('handlers' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_handlers_ids_is_the_same_objects_as_the_builders_use() -> None:
    import bot.blocks.ids as defined

    assert ActionId is defined.ActionId and GapRef is defined.GapRef and ThreadMeta is defined.ThreadMeta
