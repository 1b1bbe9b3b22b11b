"""`flywheel demo`: the whole loop, offline, on bundled data, in a few seconds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule

from bot import render
from bot.llm.offline import OfflineLLM
from bot.settings import Settings
from bot.text import sentences

DATA = Path(__file__).parent / "demo_data"
TEAMMATE = "U_DEMO_ANA"  # a teammate in the review channel


def _pick_gap(gaps: list[dict[str, Any]]) -> dict[str, Any]:
    """The demo's featured gap: the most support-like of the bundled ones."""
    for gap in gaps:
        if "garbage" in gap["question"].lower():
            return gap
    return gaps[0]


def run_demo(out: Console, workdir: Path) -> None:
    from bot.kb.markdown import import_folder
    from bot.services import build_services
    from bot.services.authoring import shadow_test, suggest_outline, write_draft
    from bot.services.conversations import resolve
    from bot.services.gaps import add_note, flag, mark_looks_good
    from bot.services.importer import import_file
    from bot.services.permissions import operator
    from bot.services.publishing import publish
    from bot.services.regression import run_regressions
    from bot.services.sampling import create_sample
    from bot.services.stats import weekly_stats

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    settings = Settings(_env_file=None, database_url=f"sqlite:///{db}", llm_provider="offline")  # type: ignore[call-arg]  # pydantic-settings init kwarg
    svc = build_services(settings, llm=OfflineLLM())
    out.print(Rule("Flywheel demo: review → update → test → repeat (offline, bundled MTRAG data)"))

    out.print("[bold]1. Import[/] the agent's conversations and the current knowledge base")
    report = import_file(svc, DATA / "conversations.jsonl", source="demo")
    render.import_report(out, report)
    with svc.session() as s:
        kb = import_folder(svc.kb, s, DATA / "kb", author="demo")
    out.print(f"Knowledge base: {kb.created} articles.")

    out.print(Rule())
    out.print("[bold]2. Today's review sample[/] (risky first, plus a random share)")
    today = svc.clock().date()
    _, items = create_sample(svc, day=today, channel="#agent-review", size=8)
    render.sample(out, today, items)

    gaps = json.loads((DATA / "gaps.json").read_text(encoding="utf-8"))
    featured = _pick_gap(gaps)
    conv_id = resolve(svc, featured["conversation_id"])
    for item in items:
        if item.conversation_id != conv_id and item.pick == "random":
            mark_looks_good(svc, conversation_id=item.conversation_id, user=TEAMMATE)

    out.print(Rule())
    out.print(f"[bold]3. A teammate flags a gap[/] on {featured['conversation_id']} (📚)")
    result = flag(svc, conversation_id=conv_id, user=TEAMMATE, on_match="new")
    gap_id = result.gap_id
    assert gap_id is not None
    render.flag_result(out, result)

    out.print(Rule())
    out.print("[bold]4. Suggested outline[/] (the human teammate's answer after the handover is the evidence)")
    render.outline(out, suggest_outline(svc, gap_id=gap_id, user=TEAMMATE))
    passage = featured["gold_passages"][0]["text"]
    note = next((s for s in sentences(passage) if "cart" in s.lower()), sentences(passage)[0])
    add_note(svc, gap_id=gap_id, author="U_DEMO_BEN", text=note)
    out.print(f"A second teammate replies in the thread with a fact: “{note}”")

    out.print(Rule())
    out.print("[bold]5. Draft[/] (outline + notes)")
    render.draft(out, write_draft(svc, gap_id=gap_id, user=TEAMMATE))

    out.print(Rule())
    out.print("[bold]6. Test the draft in a shadow KB[/] (nothing published yet)")
    tested = shadow_test(svc, gap_id=gap_id, user=TEAMMATE)
    render.replay(out, tested)
    if tested.collateral:  # the whole conversation is judged: the draft would take over earlier answers
        out.print("[bold]6b. Keep what the other answers said[/]: the teammate adds it to the draft and tests again")
        from bot.services.authoring import edit_draft, latest_draft

        with svc.session() as s:
            current = latest_draft(s, gap_id)
            assert current is not None
            title, body = current.title, current.body
        kept = "\n\n".join(f"## {c.question.strip().rstrip('?.!')}\n\n{c.before}" for c in tested.collateral)
        edit_draft(svc, gap_id=gap_id, title=title, body=f"{body}\n\n{kept}", user=TEAMMATE)
        render.replay(out, shadow_test(svc, gap_id=gap_id, user=TEAMMATE))

    out.print(Rule())
    out.print("[bold]7. Publish[/] → replay the original conversation against the live KB → verdict")
    published = publish(svc, gap_id=gap_id, user=TEAMMATE)
    render.publish(out, published)

    out.print(Rule())
    out.print("[bold]8. Regression suite[/] (every fixed gap is replayed again)")
    render.regressions(out, run_regressions(svc, actor=operator("demo")))

    out.print(Rule())
    out.print("[bold]9. Weekly stats[/]")
    report_ = weekly_stats(svc, now=svc.clock(), weeks=4)
    out.print(report_.to_text())
    from bot.services.chart import render_chart

    chart = render_chart(report_, workdir / "stats.png")
    out.print(f"Chart written to {chart}")
    verdict = str(published.outcome.verdict if published.outcome else "pending").upper()
    out.print(Rule(f"Loop closed: gap #{gap_id} {published.state} (verdict {verdict})"))
