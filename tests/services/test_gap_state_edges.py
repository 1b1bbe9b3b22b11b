"""What the gap state machine tells a person it refused, and the SQLite half of `lock_gap`.

Mutation testing showed the state-table tests checked that a move is refused, not what the person is told:
the "reopen it first" hint could vanish, or be shown for every state, with the suite green. And `lock_gap`
could skip the write lock on SQLite (the row lock is PostgreSQL's, exercised on that half of the suite).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import GapState
from bot.errors import IllegalTransition, NotFound
from bot.services import Services
from bot.services.conversations import resolve
from bot.services.gap_state import check_state, ensure_can, get_gap, lock_gap
from bot.services.gaps import flag
from storage.models import Gap
from tests.support.factories import conversation, load


def gap(state: GapState) -> Gap:
    return Gap(id=7, state=state.value)


def test_a_dismissed_gap_says_how_to_reopen_it() -> None:
    with pytest.raises(IllegalTransition) as caught:
        ensure_can(gap(GapState.DISMISSED), GapState.DRAFTING)
    assert str(caught.value) == ("Gap #7 is dismissed; it cannot move to drafting. "
                                 "Reopen it first (`flywheel gaps reopen`).")


def test_another_refused_move_gives_no_reopen_hint() -> None:
    with pytest.raises(IllegalTransition) as caught:
        ensure_can(gap(GapState.PUBLISHED), GapState.DISMISSED)
    assert str(caught.value) == "Gap #7 is published; it cannot move to dismissed."


def test_an_allowed_move_returns_the_current_state() -> None:
    assert ensure_can(gap(GapState.OPEN), GapState.DRAFTING) is GapState.OPEN


def test_a_stale_button_on_a_dismissed_gap_says_how_to_reopen_it() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_state(gap(GapState.DISMISSED), [GapState.OPEN])
    assert str(caught.value) == ("Gap #7 is dismissed: this button is out of date, so nothing was done. "
                                 "Reopen it with `flywheel gaps reopen` first.")


def test_a_stale_button_elsewhere_gives_no_reopen_hint() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_state(gap(GapState.VERIFIED), [GapState.OPEN])
    assert str(caught.value) == "Gap #7 is verified: this button is out of date, so nothing was done."


def test_a_missing_gap_says_where_to_find_the_open_ones(services: Services) -> None:
    with services.session() as s, pytest.raises(NotFound) as caught:
        get_gap(s, 404)
    assert str(caught.value) == "No gap #404. `flywheel gaps list` shows the open ones."


def test_lock_gap_takes_the_write_lock_on_sqlite_and_changes_nothing(services: Services, tmp_path: Path) -> None:
    if services.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL takes a row lock (SELECT ... FOR UPDATE), covered by the concurrent publish tests")
    load(services, tmp_path, [conversation("c1", gap=True)])
    gap_id = flag(services, conversation_id=resolve(services, "c1"), user="U_ANN").gap_id
    assert gap_id is not None
    with services.session() as s:
        before = s.get(Gap, gap_id)
        assert before is not None
        state, updated = before.state, before.updated_at
        s.expunge_all()
    with services.session() as s:
        dbapi = s.connection().connection.dbapi_connection
        assert dbapi is not None
        assert not dbapi.in_transaction  # type: ignore[attr-defined]
        lock_gap(s, gap_id)
        assert dbapi.in_transaction  # type: ignore[attr-defined]  # a write transaction: others wait
        after = get_gap(s, gap_id)
        assert (after.state, after.updated_at) == (state, updated)
