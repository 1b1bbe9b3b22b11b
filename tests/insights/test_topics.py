"""Topics on the known world (see world.py): which gaps group together, which do not, and the impact ranking."""

from __future__ import annotations

from types import SimpleNamespace

from pydantic import SecretStr

from bot.services.topics import OpenAIEmbedder, build_embedder, build_index, list_topics, rank_topics
from bot.settings import Settings
from storage.models import Gap
from tests.support.world import NOW


def groups(world, topics) -> set[frozenset[str]]:  # type: ignore[no-untyped-def]
    name = {gid: key for key, gid in world.gap.items()}
    return {frozenset(name[g] for g in t.gap_ids) for t in topics}


KNOWN = {frozenset({"r1", "r2"}), frozenset({"p1", "p2"}), frozenset({"s1", "s2"}), frozenset({"b1"}),
         frozenset({"d1"})}


def test_gaps_group_into_the_known_topics(world) -> None:
    topics = list_topics(world.services)
    # "credit card" is shared by the refund and the billing gaps, "account" by billing and deletion: not enough
    assert groups(world, topics) == KNOWN
    by_id = {t.id: t for t in topics}
    refunds, passwords = by_id[world.gap["r1"]], by_id[world.gap["p1"]]
    assert refunds.open_gap_ids == [world.gap["r2"]] and refunds.verified_gap_ids == [world.gap["r1"]]
    assert "refund" in refunds.label and "password" in passwords.label and "reset" in passwords.label
    # the conversation ann joined to the password gap belongs to the topic too
    assert passwords.linked_conversation_ids == sorted(world.conv[k] for k in ("p1", "p2", "pa1"))
    assert by_id[world.gap["b1"]].open_gap_ids == []  # verified: a closed topic


def test_one_article_fixing_two_gaps_makes_one_topic(world) -> None:
    with world.services.session() as s:
        billing_article = s.get(Gap, world.gap["b1"]).article_id
        s.get(Gap, world.gap["d1"]).article_id = billing_article  # d1's draft updates the billing article
    assert frozenset({"b1", "d1"}) in groups(world, list_topics(world.services))


def test_dismissed_gaps_are_left_out(world) -> None:
    from bot.services.gaps import dismiss

    dismiss(world.services, gap_id=world.gap["d1"], user="ann")
    assert groups(world, list_topics(world.services)) == KNOWN - {frozenset({"d1"})}


def test_open_topics_ranked_by_impact(world) -> None:
    ranked = rank_topics(world.services, now=NOW, days=28)
    assert [t.id for t in ranked] == [world.gap[k] for k in ("p1", "r1", "s1", "d1")]  # billing is closed
    passwords, refunds, shipping, deletion = ranked
    c = world.conv
    # p1 p2 pa1-pa5 pc1; went wrong: p1 p2 (escalated, unresolved, CSAT 2) pa1 pa2 pc1 (escalated) pa3 (unresolved)
    assert (passwords.conversations_touching, passwords.escalated, passwords.unresolved, passwords.low_csat,
            passwords.went_wrong, passwords.impact) == (8, 5, 3, 2, 6, 14)
    # r1 r2 ra1 ra2 rr1-rr4; went wrong: r1 r2 rr1 (escalated, unresolved, CSAT 2) ra1 rr4 (escalated)
    assert (refunds.conversations_touching, refunds.escalated, refunds.unresolved, refunds.low_csat,
            refunds.went_wrong, refunds.impact) == (8, 5, 3, 3, 5, 13)
    assert (shipping.conversations_touching, shipping.went_wrong, shipping.impact) == (4, 4, 8)
    assert (deletion.conversations_touching, deletion.impact) == (1, 2)
    # examples: the ones that went wrong, newest first (pc1 came last)
    assert passwords.sample_conversation_ids[0] == c["pc1"]
    assert set(passwords.sample_conversation_ids) <= {c[k] for k in ("p1", "p2", "pa1", "pa2", "pa3", "pc1")}
    assert len(passwords.sample_conversation_ids) == 5


def test_the_window_counts_recent_imports_and_recent_samples(world) -> None:
    ranked = rank_topics(world.services, now=NOW, days=10)  # from 11-15 12:00: batches B and C, the 11-23 sample
    assert [t.id for t in ranked] == [world.gap[k] for k in ("r1", "p1", "s1", "d1")]
    figures = [(t.conversations_touching, t.went_wrong, t.impact) for t in ranked]
    assert figures == [(4, 2, 6), (3, 2, 5), (1, 1, 2), (0, 0, 0)]
    c = world.conv
    # p1 and pa4 were imported on 11-02 but sampled on 11-23
    assert ranked[1].sample_conversation_ids == [c["pc1"], c["p1"], c["pa4"]]


def test_the_scan_is_bounded(world) -> None:
    ranked = rank_topics(world.services, now=NOW, days=28, scan_limit=3)  # only pc1, sb1, rr4: the newest ids
    touching = {t.id: t.conversations_touching for t in ranked}
    assert touching == {world.gap["p1"]: 1, world.gap["r1"]: 1, world.gap["s1"]: 1, world.gap["d1"]: 0}


class ScriptedEmbedder:
    name = "scripted"

    def __init__(self, vectors: dict[str, list[float]] | None = None) -> None:
        self.vectors, self.calls = vectors, 0

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.vectors is None:
            raise RuntimeError("endpoint down")
        return [next(v for word, v in self.vectors.items() if word in t.lower()) for t in texts]


def test_embeddings_replace_the_lexical_similarity(world) -> None:
    # refunds and billing are "money" topics for this embedder; everything else is orthogonal
    vectors = {"refund": [1.0, 0.1, 0, 0], "credit card on my account": [0.9, 0.2, 0, 0], "password": [0, 1.0, 0, 0],
               "package": [0, 0, 1.0, 0], "delete": [0, 0, 0, 1.0]}
    embedder = ScriptedEmbedder(vectors)
    topics = list_topics(world.services, embedder=embedder)
    assert embedder.calls == 1
    assert groups(world, topics) == {frozenset({"r1", "r2", "b1"}), frozenset({"p1", "p2"}),
                                     frozenset({"s1", "s2"}), frozenset({"d1"})}


def test_a_failing_embedder_falls_back_to_lexical_topics(world) -> None:
    embedder = ScriptedEmbedder(None)
    assert groups(world, build_index(world.services, embedder=embedder).topics) == KNOWN
    assert embedder.calls == 1


def test_embedder_is_built_only_for_a_configured_openai_provider() -> None:
    assert build_embedder(Settings(_env_file=None, llm_provider="offline", openai_api_key=SecretStr("sk-x"))) is None
    assert build_embedder(Settings(_env_file=None)) is None  # no key
    built = build_embedder(Settings(_env_file=None, llm_provider="auto", openai_api_key=SecretStr("sk-x")))
    assert isinstance(built, OpenAIEmbedder) and built.model == "text-embedding-3-small"


def test_openai_embedder_redacts_and_keeps_the_order() -> None:
    sent: list[list[str]] = []

    def create(*, model: str, input: list[str]):  # type: ignore[no-untyped-def]  # noqa: A002
        sent.append(input)
        return SimpleNamespace(data=[SimpleNamespace(index=1, embedding=[2.0]),
                                     SimpleNamespace(index=0, embedding=[1.0])])

    client = SimpleNamespace(embeddings=SimpleNamespace(create=create))
    vectors = OpenAIEmbedder(client).embed(["mail jo@example.com about my refund", "password"])
    assert vectors == [[1.0], [2.0]]
    assert sent == [["mail [email] about my refund", "password"]]


def test_a_question_matches_the_topic_it_is_about(world) -> None:
    index = build_index(world.services)
    cases = {
        "Where is the refund for the item I returned?": "r1",
        "The password reset email never arrives": "p1",
        "Where can I see my order status?": None,
        "How do I log into my account?": None,  # "account" is in two topics: it says little on its own
    }
    for question, topic in cases.items():
        found = index.match(question)
        assert (found[0] if found else None) == (world.gap[topic] if topic else None), question
