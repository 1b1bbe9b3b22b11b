"""A month of known loop history for the insight tests, built through the real services (import, flag, draft,
publish) with a pinned clock. Times are UTC; NOW is Wednesday 2026-11-25 12:00 (ISO week 48 starts on the 23rd).

Topics and their gaps (ids in flag order):
  refunds  : #1 r1 (verified 11-16 by bob), #2 r2 (open)
  passwords: #3 p1 (verified 11-24, published by bob after ann's drafts and bob's edit), #4 p2 (open)
  shipping : #5 s1 (verified 11-23 by dan), #6 s2 (open)
  billing  : #7 b1 (published by ann 11-25 09:00, crashed, verified by the resume at 09:05): closed
  deletion : #8 d1 (open)
Conversations: batch A 11-02, batch B 11-18 (after the refund fix), batch C 11-25 08:00 (after the password fix).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.services import Services, publishing
from bot.services.authoring import edit_draft, latest_draft, write_draft
from bot.services.conversations import resolve
from bot.services.gaps import flag, mark_looks_good
from bot.services.importer import import_file
from bot.services.publishing import publish, resume_verifications
from storage.models import Conversation, Digest, DigestItem


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


NOW = t("2026-11-25 12:00")
DONT_KNOW = "I'm sorry, I don't have information about that."
HELPFUL = "Here is what to do: follow the steps in the help center."

# id: (question, human answer or None, metadata, agent answer)
GAP_META = {"escalated": True, "resolved": False, "csat": 2}
BATCH_A = {
    "r1": ("How long does a refund to my credit card take after I return an item?",
           "Refunds to a credit card are issued within 5 business days after the returned item arrives."),
    "r2": ("When will I get my money back for a returned item? My refund has not arrived.",
           "Refunds for returned items are sent once the warehouse scans the return, usually within 2 days."),
    "p1": ("How do I reset my password if I lost access to my email?",
           "If you lost access to your email, support verifies your identity by phone and resets the password."),
    "p2": ("I forgot my password, how can I reset it?",
           "Use the Forgot password link on the sign-in page to get a reset link by email."),
    "s1": ("Why is my shipping delayed and when will my package arrive?",
           "Shipping delays are shown on the tracking page; delayed packages arrive within 10 days."),
    "s2": ("My package shipping is delayed by a week, where is it?",
           "A package delayed by more than a week is traced with the carrier; we open the trace for you."),
    "b1": ("How do I change the credit card on my account?",
           "Open Billing in your account settings and choose Change card."),
    "d1": ("How can I delete my account and all my data?",
           "Write to privacy support to delete your account; all data is erased within 30 days."),
}
# id: (question, metadata, agent answer): conversations that touch a topic but were not flagged
TOUCHING_A = {
    "ra1": ("Is my refund to the credit card on its way? I returned the item.", {"escalated": True}),
    "ra2": ("How do I get a refund for a returned item?", {"resolved": True, "csat": 5}),
    "pa1": ("I cannot reset my password, the reset email never comes.", {"escalated": True}),
    "pa2": ("Password reset is not working for me.", {"escalated": True}),
    "pa3": ("How do I reset my password?", {"resolved": False}),
    "pa4": ("Where do I reset my password?", {"resolved": True}),
    "pa5": ("Can I reset my password from the app?", {"resolved": True, "csat": 4}),
    "sa1": ("My package shipping is delayed, when will it arrive?", {"csat": 2}),
    **{f"n{i}": ("Where can I see my order status?", {"resolved": True, "csat": 5}) for i in range(1, 7)},
}
BATCH_B = {
    "rr1": ("My refund for the returned item never reached my credit card.",
            {"escalated": True, "resolved": False, "csat": 2}, HELPFUL),
    "rr2": ("How long until the refund for my returned item arrives?", {"resolved": True}, "I'm not sure, sorry."),
    "rr3": ("When is the refund for a returned item paid back?", {"resolved": True, "csat": 5}, HELPFUL),
    "rr4": ("Refund for my returned item is missing on my credit card.", {"escalated": True}, HELPFUL),
    "sb1": ("Why is my package shipping delayed?", {"escalated": True}, HELPFUL),
}
BATCH_C = {"pc1": ("I still cannot reset my password after using the reset link.", {"escalated": True}, HELPFUL)}
USERS = ("ann", "bob", "cat", "dan")


def gap_conversation(cid: str, question: str, human: str) -> dict:
    return {"id": cid, "metadata": GAP_META, "messages": [
        {"role": "user", "text": "Hi there"}, {"role": "agent", "text": "Hello! How can I help?"},
        {"role": "user", "text": question}, {"role": "agent", "text": DONT_KNOW}, {"role": "human", "text": human}]}


def plain_conversation(cid: str, question: str, meta: dict, answer: str = HELPFUL) -> dict:
    return {"id": cid, "metadata": meta, "messages": [{"role": "user", "text": question},
                                                      {"role": "agent", "text": answer}]}


@dataclass
class World:
    services: Services
    conv: dict[str, int]  # external id -> conversation id
    gap: dict[str, int]  # r1, r2, p1… -> gap id

    def at(self, when: str | dt.datetime) -> None:
        moment = t(when) if isinstance(when, str) else when
        self.services.clock = lambda: moment


def _import(world: World, tmp_path: Path, name: str, rows: list[dict]) -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    report = import_file(world.services, path, source="test")
    assert report.conversations_added == len(rows) and not report.bad_lines
    for r in rows:
        world.conv[r["id"]] = resolve(world.services, f"test:{r['id']}")


class Crash(Exception):
    pass


def build_world(services: Services, tmp_path: Path) -> World:
    w = World(services, {}, {})
    svc = services
    w.at("2026-11-02 09:00")
    _import(w, tmp_path, "a", [gap_conversation(c, q, h) for c, (q, h) in BATCH_A.items()]
            + [plain_conversation(c, q, m) for c, (q, m) in TOUCHING_A.items()])

    def flag_new(key: str, user: str, when: str) -> None:
        w.at(when)
        result = flag(svc, conversation_id=w.conv[key], user=user, on_match="new")
        assert result.created and result.gap_id
        w.gap[key] = result.gap_id

    flag_new("r1", "ann", "2026-11-16 09:00")
    w.at("2026-11-16 10:00")
    write_draft(svc, gap_id=w.gap["r1"], user="ann")
    w.at("2026-11-16 12:00")
    assert publish(svc, gap_id=w.gap["r1"], user="bob").state == "verified"
    w.at("2026-11-18 09:00")
    _import(w, tmp_path, "b", [plain_conversation(c, q, m, a) for c, (q, m, a) in BATCH_B.items()])
    flag_new("r2", "cat", "2026-11-19 10:00")

    # Monday 11-23: the day's review sample (three random picks, one risk pick)
    with svc.session() as s:
        digest = Digest(day=dt.date(2026, 11, 23), channel="C1", created_at=t("2026-11-23 09:00"))
        s.add(digest)
        s.flush()
        for pos, (key, pick) in enumerate((("p1", "random"), ("n1", "random"), ("n2", "random"), ("pa4", "risk"))):
            s.add(DigestItem(digest_id=digest.id, conversation_id=w.conv[key], position=pos, pick=pick))
            s.get(Conversation, w.conv[key]).sampled_on = dt.date(2026, 11, 23)
    flag_new("p1", "bob", "2026-11-23 09:30")  # reviews the p1 pick
    w.at("2026-11-23 09:40")
    for key in ("n1", "n2"):
        mark_looks_good(svc, conversation_id=w.conv[key], user="ann")
    flag_new("p2", "cat", "2026-11-23 10:00")
    w.at("2026-11-23 10:10")
    assert flag(svc, conversation_id=w.conv["pa1"], user="ann", on_match=w.gap["p1"]).joined
    flag_new("s1", "dan", "2026-11-23 11:00")
    flag_new("s2", "dan", "2026-11-23 11:10")
    flag_new("b1", "ann", "2026-11-23 11:30")
    flag_new("d1", "bob", "2026-11-23 11:40")
    for when, key, user in (("14:00", "p1", "ann"), ("14:10", "p1", "ann"), ("14:30", "s1", "dan")):
        w.at(f"2026-11-23 {when}")
        write_draft(svc, gap_id=w.gap[key], user=user)
    w.at("2026-11-23 14:20")
    with svc.session() as s:
        current = latest_draft(s, w.gap["p1"])
        title, body = current.title, current.body
    edit_draft(svc, gap_id=w.gap["p1"], title=title, body=body + "\n\nReviewed by the account team.", user="bob")
    w.at("2026-11-23 15:00")
    assert publish(svc, gap_id=w.gap["s1"], user="dan").state == "verified"
    w.at("2026-11-24 10:00")
    assert publish(svc, gap_id=w.gap["p1"], user="bob").state == "verified"
    w.at("2026-11-24 11:00")
    mark_looks_good(svc, conversation_id=w.conv["pa4"], user="dan")

    w.at("2026-11-25 08:00")
    _import(w, tmp_path, "c", [plain_conversation(c, q, m, a) for c, (q, m, a) in BATCH_C.items()])
    w.at("2026-11-25 08:30")
    write_draft(svc, gap_id=w.gap["b1"], user="ann")
    w.at("2026-11-25 09:00")
    with pytest.MonkeyPatch.context() as mp:  # the process dies between publishing and the verdict
        mp.setattr(publishing, "verify", lambda *a, **k: (_ for _ in ()).throw(Crash()))
        with pytest.raises(Crash):
            publish(svc, gap_id=w.gap["b1"], user="ann")
    w.at("2026-11-25 09:05")
    assert resume_verifications(svc) == [w.gap["b1"]]
    w.at(NOW)
    return w
