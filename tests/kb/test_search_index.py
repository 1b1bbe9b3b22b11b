"""The in-memory BM25 index on a real database: one ranking on SQLite and PostgreSQL, conversation-aware
queries, and an index that follows the KB's revision (publish, withdraw, another process's change)."""

from __future__ import annotations

import threading

from bot.kb import ExtraDoc, KnowledgeBase
from bot.kb.search import conversation_query
from bot.llm.base import Turn

ARTICLES = [
    ("Refund policy", "Refunds reach your card within 5 business days of the return.", ["billing"]),
    ("Shipping times", "Standard shipping takes five business days; express shipping takes two.", []),
    ("Password reset", "Reset your password from the login page with the emailed link.", ["account"]),
    ("Gift cards", "Gift cards never expire and can be used for shipping too.", ["billing"]),
    ("Grand Hotel: Wifi", "Free wifi is available in every room of the Grand Hotel.", []),
    ("Harbour Inn: Wifi", "Wifi costs 5 dollars a day at the Harbour Inn.", []),
    ("Harbour Inn: Parking", "Parking is free for guests of the Harbour Inn.", []),
]

def _seed(services) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ids = {}
    with services.session() as s:
        for title, body, tags in ARTICLES:
            article, _ = services.kb.save(s, title=title, body=body, tags=tags)
            ids[title] = article.id
    return ids


def _ranking(hits) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    return [(h.slug, round(h.score, 4)) for h in hits]


def test_the_ranking_is_the_same_on_every_backend(services) -> None:
    """Both database halves of this test assert the same ranking, scores included."""
    _seed(services)
    assert _ranking(services.kb.search("business days shipping", 3)) == [
        ("shipping-times", 3.9897), ("refund-policy", 1.8843), ("gift-cards", 1.2005)]
    # a tie goes to the older article (the lower id), on every backend
    assert _ranking(services.kb.search("wifi", 5)) == [("grand-hotel-wifi", 1.9585), ("harbour-inn-wifi", 1.9585)]
    assert services.kb.search("the of and") == []


def test_an_entity_named_three_turns_earlier_still_ranks_its_article_first(services) -> None:
    _seed(services)
    history = [Turn(role="user", text="I am staying at the Harbour Inn next week."),
               Turn(role="agent", text="Great choice, how can I help with your stay?"),
               Turn(role="user", text="I will arrive late in the evening."),
               Turn(role="agent", text="Reception is open all night."),
               Turn(role="user", text="Do they have wifi?")]
    assert services.kb.search(conversation_query(history), 3)[0].title == "Harbour Inn: Wifi"
    # the last turn alone cannot tell the two hotels apart; it is the conversation that decides
    assert services.kb.search(history[-1].text, 2)[0].title == "Grand Hotel: Wifi"
    # and the last turn still weighs most: a new question is not drowned by the history
    history += [Turn(role="agent", text="Yes."), Turn(role="user", text="How do I reset my password?")]
    assert services.kb.search(conversation_query(history), 1)[0].title == "Password reset"


def test_a_published_article_is_found_at_once_and_by_another_process(services) -> None:
    _seed(services)
    other = KnowledgeBase(services.engine)  # another process: its own index, same database
    assert not other.search("loyalty points") and not services.kb.search("loyalty points")
    rebuilds = services.kb.backend.live.rebuilds
    with services.session() as s:
        article, _ = services.kb.save(s, title="Loyalty points", body="Points are earned on every order.")
    assert services.kb.search("loyalty points")[0].article_id == article.id
    assert other.search("loyalty points")[0].article_id == article.id  # seen through the KB revision
    assert services.kb.backend.live.rebuilds == rebuilds  # scored beside the index, not rebuilt for one change
    with services.session() as s:  # a new version replaces the old text in search
        services.kb.save(s, article_id=article.id, title="Loyalty points", body="Points expire after a year.")
    assert services.kb.search("points expire")[0].body == "Points expire after a year."
    assert not [h for h in other.search("earned order") if h.article_id == article.id]


def test_a_withdrawn_article_leaves_search_in_every_process(services, monkeypatch) -> None:
    from bot.kb import live

    ids = _seed(services)
    other = KnowledgeBase(services.engine)
    assert other.search("gift cards expire")[0].article_id == ids["Gift cards"]
    from storage.models import Article, utcnow

    with services.session() as s:  # as bot/services/rollback.py withdraws an article
        services.kb.backend.unindex(s.connection(), ids["Gift cards"])
        s.get(Article, ids["Gift cards"]).withdrawn_at = utcnow()
    assert all(h.article_id != ids["Gift cards"] for h in services.kb.search("gift cards expire"))
    assert other.search("gift cards expire")[0].article_id == ids["Gift cards"]  # within FINGERPRINT_SECONDS
    monkeypatch.setattr(live, "FINGERPRINT_SECONDS", 0.0)  # …and once it has passed:
    assert all(h.article_id != ids["Gift cards"] for h in other.search("gift cards expire"))


def test_many_changes_rebuild_the_index(services, monkeypatch) -> None:
    from bot.kb import live

    monkeypatch.setattr(live, "REBUILD_MIN", 3)
    _seed(services)
    services.kb.search("refund")
    rebuilds = services.kb.backend.live.rebuilds
    with services.session() as s:
        for i in range(5):
            services.kb.save(s, title=f"Store {i} opening hours", body=f"Store {i} opens at {i + 8} am.")
    assert services.kb.search("store 3 opening hours")[0].title == "Store 3 opening hours"  # from the overlay
    assert services.kb.backend.live.wait(30)  # the rebuild runs in a background thread
    assert services.kb.backend.live.rebuilds == rebuilds + 1
    assert services.kb.search("store 4 opening hours")[0].title == "Store 4 opening hours"


def test_the_index_is_warmed_in_the_background_at_start(services) -> None:
    from bot.kb.startup import start_search

    _seed(services)
    live = services.kb.backend.live
    assert live.rebuilds == 0
    start_search(services.kb, services.settings)  # as `flywheel serve`, `run` and `worker` start
    assert live.wait(30) and live.rebuilds == 1
    assert services.kb.search("refund card")[0].title == "Refund policy"
    assert live.rebuilds == 1  # the first search found it built


def test_searches_never_wait_for_a_rebuild(services, monkeypatch) -> None:
    """While the snapshot is rebuilt (slow at 100k articles), every search answers from the previous state."""
    from bot.kb import live as live_module

    _seed(services)
    services.kb.search("refund")
    monkeypatch.setattr(live_module, "REBUILD_MIN", 3)
    release, started = threading.Event(), threading.Event()
    real = live_module.Snapshot

    def slow_snapshot(docs):  # type: ignore[no-untyped-def]
        started.set()
        assert release.wait(30)
        return real(docs)

    monkeypatch.setattr(live_module, "Snapshot", slow_snapshot)
    with services.session() as s:
        for i in range(5):
            services.kb.save(s, title=f"Store {i} opening hours", body=f"Store {i} opens at {i + 8} am.")
    assert services.kb.search("store 3 opening hours")[0].title == "Store 3 opening hours"
    assert started.wait(30)  # the rebuild is running, held
    with services.session() as s:
        services.kb.save(s, title="Gift wrap", body="Gift wrap costs 2 dollars.")
    found = [services.kb.search("refund card")[0].title for _ in range(3)]  # none of these waits
    assert found == ["Refund policy"] * 3
    services.kb.backend.live.invalidate()  # an invalidation does not wait either
    assert services.kb.search("store 1 opening hours")[0].title == "Store 1 opening hours"
    release.set()
    assert services.kb.backend.live.wait(30)
    assert services.kb.search("gift wrap")[0].title == "Gift wrap"  # the change made during the rebuild


def test_shadow_drafts_are_scored_beside_the_index_without_rebuilding_it(services) -> None:
    ids = _seed(services)
    services.kb.search("refund")
    rebuilds = services.kb.backend.live.rebuilds
    extra = [ExtraDoc(title="Store credit", body="Store credit never expires."),
             ExtraDoc(title="Refund policy", body="Refunds reach your card within 3 days.",
                      replaces=ids["Refund policy"])]
    with services.kb.shadow(extra) as shadow:
        hit = shadow.search("does store credit expire")[0]
        assert (hit.title, hit.article_id < 0) == ("Store credit", True)
        refund = shadow.search("refund card days")[0]
        assert (refund.article_id, refund.body, refund.slug) == (ids["Refund policy"],
                                                                 "Refunds reach your card within 3 days.",
                                                                 "refund-policy")
    assert services.kb.search("refund card days")[0].body.startswith("Refunds reach your card within 5")
    assert services.kb.backend.live.rebuilds == rebuilds


def test_concurrent_searches_while_publishing(services) -> None:
    _seed(services)
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(20):
                assert services.kb.search("refund card", 3)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    with services.session() as s:
        for i in range(10):
            services.kb.save(s, title=f"Card refund case {i}", body="Refund to a card, case notes.")
    for t in threads:
        t.join()
    assert not errors
    assert len(services.kb.search("card refund case", 20)) >= 10
