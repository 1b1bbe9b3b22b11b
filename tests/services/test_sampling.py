"""Daily sample: risk-ranked plus a random share, reproducible per day, never re-sampling."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.services.sampling import create_sample, split_sizes
from storage.models import Conversation, DigestItem
from tests.support.factories import conversation, load

DAY = dt.date(2026, 11, 24)


def _population(services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [conversation(f"ok{i}") for i in range(40)]
    rows += [conversation(f"risky{i}", gap=True) for i in range(5)]
    rows += [conversation(f"meh{i}", resolved=False, csat=4) for i in range(5)]
    load(services, tmp_path, rows)


def test_risky_first_plus_a_random_share(services, tmp_path) -> None:
    _population(services, tmp_path)
    _, items = create_sample(services, day=DAY, channel="C1", size=8, random_share=0.25)
    risk = [i for i in items if i.pick == "risk"]
    rand = [i for i in items if i.pick == "random"]
    assert len(items) == 8 and len(rand) == 2 and len(risk) == 6
    assert all(i.external_id.startswith("risky") for i in risk[:5])  # the escalated ones rank first
    assert "escalated" in risk[0].reasons and rand[0].reasons == ["random share"]
    assert risk[5].external_id.startswith("meh")


def test_same_day_same_sample_and_no_conversation_twice(services, tmp_path) -> None:
    _population(services, tmp_path)
    _, first = create_sample(services, day=DAY, channel="C1", size=8)
    _, again = create_sample(services, day=DAY, channel="C1", size=8)
    assert [i.conversation_id for i in first] == [i.conversation_id for i in again]
    _, next_day = create_sample(services, day=DAY + dt.timedelta(days=1), channel="C1", size=8)
    assert not {i.conversation_id for i in first} & {i.conversation_id for i in next_day}
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(DigestItem)) == 16
        sampled = select(func.count()).select_from(Conversation).where(Conversation.sampled_on.is_not(None))
        assert s.scalar(sampled) == 16


def test_random_share_depends_on_the_day_and_fills_when_few_are_risky(services, tmp_path) -> None:
    load(services, tmp_path, [conversation(f"ok{i}") for i in range(60)])
    _, a = create_sample(services, day=DAY, channel="A", size=5)
    assert len(a) == 5 and all(i.pick == "random" for i in a)  # nothing risky: all random
    _, b = create_sample(services, day=DAY + dt.timedelta(days=7), channel="B", size=5)
    assert {i.external_id for i in a} != {i.external_id for i in b}


def test_split_sizes() -> None:
    assert split_sizes(8, 0.25) == (6, 2)
    assert split_sizes(8, 0.0) == (8, 0)
    assert split_sizes(2, 0.1) == (1, 1)
    assert split_sizes(1, 0.5) in ((1, 0), (0, 1))


def test_exhausted_population_gives_an_empty_sample(services, tmp_path) -> None:
    load(services, tmp_path, [conversation("only")])
    _, first = create_sample(services, day=DAY, channel="C", size=3)
    _, second = create_sample(services, day=DAY + dt.timedelta(days=1), channel="C", size=3)
    assert len(first) == 1 and second == []
