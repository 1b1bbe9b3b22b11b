#!/usr/bin/env python3
"""Build the small bundled demo data set (bot/demo_data/) from MTRAG-UN's govt reference tasks.

    python scripts/build_demo_data.py \
        --source ../shared/data/mtrag/mtragun-human/generation_tasks/reference.jsonl --out bot/demo_data [--check]

Deterministic: the same source file (and the same `bot.text` helpers) always give byte-identical output.
Only tasks of the `govt` collection (U.S. government web pages) marked ANSWERABLE are used.

Output, in --out:
- conversations.jsonl  ~40 conversations: the task's last input turns + the reference answer as the final
                       agent message; 3 of them are "gap" conversations (see below);
- kb/*.md              one article per distinct gold passage of the non-gap conversations;
- gaps.json            the 3 gap conversations with their gold passages and reference answers;
- SOURCE.md            attribution and exactly how the files were derived;
- LICENSE-MTRAG.txt    the Apache-2.0 notice (+ the full licence text when this machine has it).

A gap conversation is one whose gold passages are left out of kb/: its final agent message is replaced by an
evasive answer, a human teammate then gives the reference answer. Gaps are chosen so the demo's offline agent
(`bot.llm.offline.OfflineLLM.answer`: an article must hold >= MATCH_COVERED of the question's content words)
cannot answer the final question from kb/, but could from an article holding the reference answer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.text import content_terms, coverage, jaccard, shorten, words  # noqa: E402

COLLECTION = "govt"
N_CONVERSATIONS = 40
N_GAPS = 3
N_RISKY = 8
KEEP_INPUT_TURNS = 5  # + the final answer = the last 6 turns
MAX_KB_FILES = 80
MAX_KB_BYTES = 240_000
MIN_QUESTION_TERMS = 6
MATCH = 0.5  # keep in step with bot.llm.offline.MATCH_COVERED (checked by --check)
SYNTHETIC_START = datetime(2024, 8, 8, 12, 0, 0, tzinfo=UTC)
HANDOVER_DELAY = 180  # seconds between the evasive answer and the human teammate's answer (synthetic)
EVASIVE = "I'm sorry, I don't have information about that. Let me connect you with a teammate."
UPSTREAM = "github.com/IBM/mt-rag-benchmark"
SOURCE_REL = "mtragun-human/generation_tasks/reference.jsonl"
APACHE_URL = "https://www.apache.org/licenses/LICENSE-2.0"
APACHE_LOCAL = Path("/usr/share/common-licenses/Apache-2.0")
COMMAND = (
    "python scripts/build_demo_data.py "
    "--source ../shared/data/mtrag/mtragun-human/generation_tasks/reference.jsonl --out bot/demo_data"
)
# A question that opens with one of these leans on earlier turns ("what about it?", "and they?").
ANAPHORIC_OPENERS = frozenset(
    "it its it's they them their this that these those he she his her and so but or also then".split()
)
ANAPHORIC_PHRASES = ("what about", "how about", "and what about", "what if it")
# ... and so does one that uses these anywhere ("does it offer", "do they support").
ANAPHORIC_WORDS = frozenset("it its it's they them their these those".split())


# --- small helpers ----------------------------------------------------------------------------------


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def base_doc(document_id: str) -> str:
    """'fe8c82cdf4a51f27-12212-14051' -> 'fe8c82cdf4a51f27' (the web page; the rest are character offsets)."""
    return document_id.split("-", 1)[0]


def start_offset(document_id: str) -> int:
    parts = document_id.split("-")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def clean_passage(text: str) -> str:
    """Whitespace only: CRLF -> LF, no-break spaces -> spaces, trailing/leading blanks, at most one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def page_title(text: str) -> str:
    first = next((line for line in clean_passage(text).split("\n") if line.strip()), "")
    return shorten(first, 80)


def slug_words(text: str, limit: int) -> str:
    """Whole words, ASCII letters and digits only (no apostrophes in file names), at most `limit` chars."""
    out = ""
    for w in re.findall(r"[a-z0-9]+", text.lower().replace("'", "").replace("\u2019", "")):
        if out and len(out) + 1 + len(w) > limit:
            break
        out = f"{out}-{w}" if out else w[:limit]
    return out or "govt"


def final_question(task: dict) -> str:
    return task["input"][-1]["text"].strip()


def is_self_contained(question: str) -> bool:
    ws = words(question)
    if not ws or ws[0] in ANAPHORIC_OPENERS:
        return False
    low = " ".join(ws)
    if any(low.startswith(p) for p in ANAPHORIC_PHRASES):
        return False
    if ANAPHORIC_WORDS & set(ws):
        return False
    return len(set(content_terms(question))) >= MIN_QUESTION_TERMS


def load_tasks(source: Path) -> list[dict]:
    tasks = []
    with source.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                tasks.append(json.loads(line))
    return tasks


def usable(task: dict) -> bool:
    speakers = [m["speaker"] for m in task["input"]]
    return (
        task.get("Collection") == COLLECTION
        and task.get("answerability") == ["ANSWERABLE"]
        and bool(task.get("contexts"))
        and bool(task.get("targets"))
        and bool(speakers)
        and speakers[-1] == "user"
        and set(speakers) <= {"user", "agent"}
    )


# --- selection --------------------------------------------------------------------------------------


def gap_candidates(candidates: list[dict], pool: dict[str, str]) -> list[dict]:
    """Tasks that make a convincing gap, best first, with the figures that qualified them."""
    out = []
    for task in candidates:
        question = final_question(task)
        if not is_self_contained(question):
            continue
        own = {base_doc(c["document_id"]) for c in task["contexts"]}
        others = [text for doc_id, text in pool.items() if base_doc(doc_id) not in own]
        answer_cov = coverage(question, task["targets"][0]["text"])
        other_cov = max((coverage(question, text) for text in others), default=0.0)
        if answer_cov < MATCH or other_cov >= MATCH:
            continue
        overlap = max((jaccard(c["text"], text) for c in task["contexts"] for text in others), default=0.0)
        out.append({"task": task, "answer_cov": answer_cov, "other_cov": other_cov, "overlap": overlap})
    out.sort(key=lambda g: (round(g["overlap"], 6), round(g["other_cov"], 6), g["task"]["conversation_id"]))
    return out


def select(tasks: list[dict]) -> tuple[list[dict], list[dict], dict]:
    candidates = sorted((t for t in tasks if usable(t)), key=lambda t: t["conversation_id"])
    pool: dict[str, str] = {}  # every passage that could end up in kb/
    for task in candidates:
        for ctx in task["contexts"]:
            pool.setdefault(ctx["document_id"], clean_passage(ctx["text"]))
    ranked = gap_candidates(candidates, pool)
    if len(ranked) < N_GAPS:
        raise SystemExit(f"only {len(ranked)} tasks qualify as gap conversations; need {N_GAPS}")
    gaps = ranked[:N_GAPS]
    gap_ids = {g["task"]["conversation_id"] for g in gaps}
    gap_pages = {base_doc(c["document_id"]) for g in gaps for c in g["task"]["contexts"]}
    gap_questions = [final_question(g["task"]) for g in gaps]

    chosen: list[dict] = []
    kb_docs: dict[str, str] = {}
    kb_bytes = 0
    # Fewest gold passages first, so ~40 conversations fit in a small kb/.
    for task in sorted(candidates, key=lambda t: (len(t["contexts"]), t["conversation_id"])):
        if len(chosen) >= N_CONVERSATIONS - N_GAPS:
            break
        if task["conversation_id"] in gap_ids:
            continue
        ctxs = task["contexts"]
        if any(base_doc(c["document_id"]) in gap_pages for c in ctxs):
            continue  # a sibling passage of a gap's page might hold the missing answer
        new = {c["document_id"]: clean_passage(c["text"]) for c in ctxs if c["document_id"] not in kb_docs}
        if any(coverage(q, text) >= MATCH for q in gap_questions for text in new.values()):
            continue  # would fill a gap by accident
        size = sum(len(t.encode()) + 200 for t in new.values())
        if len(kb_docs) + len(new) > MAX_KB_FILES or kb_bytes + size > MAX_KB_BYTES:
            continue
        chosen.append(task)
        kb_docs.update(new)
        kb_bytes += size
    return gaps, chosen, kb_docs


# --- output -----------------------------------------------------------------------------------------


def messages_for(task: dict, *, gap: bool) -> list[dict]:
    kept = task["input"][-KEEP_INPUT_TURNS:]
    target = task["targets"][0]
    out: list[dict] = []
    last = None
    for i, turn in enumerate([*kept, target]):
        epoch = (turn.get("metadata") or {}).get("created_at")
        if not isinstance(epoch, int | float) or (last is not None and epoch < last):
            epoch = (last + 60) if last is not None else SYNTHETIC_START.timestamp() + 60 * i
        last = epoch
        role = "user" if turn["speaker"] == "user" else "agent"
        out.append({"role": role, "text": turn["text"].strip(), "timestamp": iso(epoch)})
    if gap:
        reference = out[-1]["text"]
        out[-1] = {"role": "agent", "text": EVASIVE, "timestamp": out[-1]["timestamp"]}
        out.append({"role": "human", "text": reference, "timestamp": iso(last + HANDOVER_DELAY)})
    return out


def conversation_id(task: dict) -> str:
    return f"mtrag-{task['conversation_id']}-{task['turn']}"


def outcome_metadata(nongap: list[dict]) -> dict[str, dict]:
    """Realistic outcome signals: N_RISKY non-gap conversations get some; the rest resolved with CSAT 4-5."""
    order = sorted(nongap, key=lambda t: digest("risk", t["conversation_id"]))
    risky = [  # (resolved, csat)
        (False, 3), (False, 3), (False, 3), (True, 2), (True, 2), (True, 3), (False, 2), (True, 3),
    ][:N_RISKY]
    out = {}
    for i, task in enumerate(order):
        if i < len(risky):
            resolved, csat = risky[i]
        else:
            resolved, csat = True, 5 if int(digest("csat", task["conversation_id"])[:8], 16) % 3 else 4
        out[task["conversation_id"]] = {"resolved": resolved, "escalated": False, "csat": csat}
    return out


def kb_articles(kb_docs: dict[str, str]) -> list[dict]:
    by_title: dict[str, list[str]] = {}
    for doc_id, text in kb_docs.items():
        by_title.setdefault(page_title(text) or f"Govt document {doc_id}", []).append(doc_id)
    articles = []
    for title, ids in by_title.items():
        ids = sorted(ids, key=lambda d: (start_offset(d), d))
        for k, doc_id in enumerate(ids, 1):
            full = f"{title} (part {k})" if len(ids) > 1 else title
            slug = f"{slug_words(title, 50)}-{doc_id}"
            articles.append({"document_id": doc_id, "title": full, "slug": slug, "body": kb_docs[doc_id]})
    return sorted(articles, key=lambda a: a["slug"])


def article_markdown(article: dict) -> str:
    head = [
        f"title: {json.dumps(article['title'], ensure_ascii=False)}",
        f"slug: {article['slug']}",
        "tags: [govt]",
        f"source: \"MTRAG govt document {article['document_id']}\"",
    ]
    return "---\n" + "\n".join(head) + "\n---\n\n" + article["body"] + "\n"


def upstream_commits(source: Path) -> str:
    """The upstream commit line from the source data's SOURCE.md (…/mtrag/SOURCE.md), if present."""
    for parent in source.resolve().parents:
        meta = parent / "SOURCE.md"
        if meta.is_file():
            text = meta.read_text(encoding="utf-8")
            snap = re.search(r"snapshot HEAD ([0-9a-f]{40})", text)
            copied = re.search(r"copied files last changed ([0-9a-f]{40})", text)
            parts = []
            if snap:
                parts.append(f"snapshot HEAD `{snap.group(1)}`")
            if copied:
                parts.append(f"file last changed in `{copied.group(1)}`")
            if parts:
                return ", ".join(parts)
    return "commit unknown"


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def build(source: Path, out: Path) -> dict:
    tasks = load_tasks(source)
    gaps, nongap, kb_docs = select(tasks)
    outcomes = outcome_metadata(nongap)
    out.mkdir(parents=True, exist_ok=True)
    kb_dir = out / "kb"
    kb_dir.mkdir(exist_ok=True)
    for stale in kb_dir.glob("*.md"):
        stale.unlink()

    records = []
    for task in nongap:
        records.append((task, False, outcomes[task["conversation_id"]]))
    for g in gaps:
        records.append((g["task"], True, {"resolved": False, "escalated": True, "csat": 2}))
    lines = []
    for task, gap, outcome in sorted(records, key=lambda r: conversation_id(r[0])):
        msgs = messages_for(task, gap=gap)
        meta = {**outcome, "collection": COLLECTION, "mtrag_task_id": task["task_id"]}
        if gap:
            meta["demo_gap"] = True
        record = {
            "id": conversation_id(task),
            "source": "demo",
            "started_at": msgs[0]["timestamp"],
            "channel": "web",
            "metadata": meta,
            "messages": msgs,
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    (out / "conversations.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    articles = kb_articles(kb_docs)
    for article in articles:
        (kb_dir / f"{article['slug']}.md").write_text(article_markdown(article), encoding="utf-8")

    gap_rows = []
    for g in sorted(gaps, key=lambda g: conversation_id(g["task"])):
        task = g["task"]
        gap_rows.append(
            {
                "conversation_id": conversation_id(task),
                "mtrag_task_id": task["task_id"],
                "question": final_question(task),
                "gold_passages": [
                    {
                        "document_id": c["document_id"],
                        "title": page_title(c["text"]),
                        "text": clean_passage(c["text"]),
                    }
                    for c in task["contexts"]
                ],
                "reference_answer": task["targets"][0]["text"].strip(),
                "selection": {
                    "question_coverage_by_reference_answer": round(g["answer_cov"], 3),
                    "best_question_coverage_by_other_pages_passage": round(g["other_cov"], 3),
                    "max_jaccard_gold_vs_other_pages_passages": round(g["overlap"], 3),
                },
            }
        )
    write_json(out / "gaps.json", gap_rows)

    write_source_md(
        out, source, n_tasks=len(tasks), n_conv=len(records), articles=articles, gap_rows=gap_rows, outcomes=outcomes
    )
    write_license(out)
    return {"conversations": len(records), "kb": len(articles), "gaps": [r["conversation_id"] for r in gap_rows]}


def write_source_md(
    out: Path, source: Path, *, n_tasks: int, n_conv: int, articles: list, gap_rows: list, outcomes: dict
) -> None:
    risky = sorted(
        (cid, o) for cid, o in outcomes.items() if not o["resolved"] or o["csat"] <= 3
    )
    gap_list = "\n".join(f"   - `{g['conversation_id']}` — “{g['question']}”" for g in gap_rows)
    text = f"""# Demo data: source, licence and derivation

The conversations and knowledge-base articles in this folder are **derived from MTRAG / MTRAG-UN**, the
multi-turn retrieval-augmented-generation benchmark by IBM Research
(<https://{UPSTREAM}>; {upstream_commits(source)}).

- MTRAG-UN: Sara Rosenthal, Yannis Katsis, Vraj Shah, Lihong He, Lucian Popa, Marina Danilevsky,
  *MTRAG-UN: A Benchmark for Open Challenges in Multi-Turn RAG Conversations*.
- MTRAG: Yannis Katsis et al., *MTRAG: A Multi-Turn Conversational Benchmark for Evaluating
  Retrieval-Augmented Generation Systems* (2025).

## License

MTRAG is distributed under the **Apache License, Version 2.0** (the repository's LICENSE; no separate data
licence is stated). See `LICENSE-MTRAG.txt` in this folder and <{APACHE_URL}>.
This folder is a modified, derived subset; the changes are listed below.

Only the benchmark's **`govt` collection** is used: its passages are text from **U.S. government web pages**
(federal, state and local sites: NASA, FEMA, Veterans Affairs, California and New York state agencies and
courts, county and city pages). Works of the U.S. federal government are in the public domain; state and local
pages may carry their own terms, and are included here as redistributed by MTRAG. No other collection
(ClapNQ/Wikipedia, FiQA, IBM Cloud docs) is used.

## How the files were derived

Input: `{SOURCE_REL}` of the MTRAG repository ({n_tasks} tasks).
Generated by `scripts/build_demo_data.py` (deterministic, re-runnable):

```
{COMMAND}
```

1. Tasks kept: `Collection == "govt"`, `answerability == ["ANSWERABLE"]`, with gold `contexts`.
2. **Gap conversations ({len(gap_rows)})**: among those tasks, ones whose final user question is self-contained
   (at least {MIN_QUESTION_TERMS} content words, no leading or back-referring pronoun such as “it”/“they”), whose
   reference answer holds at least {int(MATCH * 100)}% of the question's content words, and which no gold
   passage of another kept task (from another web page) covers to {int(MATCH * 100)}%; the best
   {len(gap_rows)} by the least word overlap (Jaccard) between their gold passages and those other passages:
{gap_list}
   Their gold passages — and every passage from the same web pages — are **left out of `kb/`**; they are
   listed, with the reference answers, in `gaps.json` (the knowledge a teammate would write).
3. **Other conversations ({n_conv - len(gap_rows)})**: the remaining kept tasks, fewest gold passages first
   (then by `conversation_id`), skipping any that would share a web page with a gap, add a passage covering
   a gap question to {int(MATCH * 100)}%, or push `kb/` past {MAX_KB_FILES} files / {MAX_KB_BYTES // 1000} KB.
4. `conversations.jsonl`: per task, id `mtrag-<conversation_id>-<turn>`; messages = the last
   {KEEP_INPUT_TURNS} `input` turns (speaker `user` → `user`, `agent` → `agent`), then the reference answer
   (`targets[0].text`) as the final agent message; timestamps from each turn's `created_at` epoch (UTC);
   `started_at` = the first kept message. Text is copied verbatim apart from trimming surrounding whitespace.
5. `kb/*.md` ({len(articles)} files): one article per distinct gold passage of the non-gap conversations;
   front matter `title` (the page title, i.e. the passage's first line, with “(part N)” when several passages
   of one page are kept), `slug`, `tags: [govt]`, `source: "MTRAG govt document <document_id>"`; the body is the
   passage text with whitespace normalised (CRLF → LF, no-break space → space, lines trimmed, runs of blank
   lines collapsed).

## What was changed (synthetic edits)

- **The 3 gap conversations**: the final agent message (MTRAG's reference answer) is replaced by the synthetic
  evasive answer “{EVASIVE}”,
  followed by a synthetic `human` message (timestamped {HANDOVER_DELAY} s later) whose text is MTRAG's
  reference answer — the teammate who took over. Their metadata is synthetic:
  `"escalated": true, "resolved": false, "csat": 2, "demo_gap": true`.
- **Outcome metadata of all conversations** (`resolved`, `escalated`, `csat`, `channel`, `source`) is synthetic
  (MTRAG has no such fields), assigned by a hash of the conversation id: {len(risky)} non-gap conversations
  carry risk signals (unresolved and/or CSAT 2–3) so the risk ranking has something to rank; the others are
  resolved with CSAT 4–5.
- `collection` and `mtrag_task_id` in the metadata point back to the original task.
"""
    (out / "SOURCE.md").write_text(text, encoding="utf-8")


def write_license(out: Path) -> None:
    notice = f"""MTRAG / MTRAG-UN benchmark data (IBM Research), https://{UPSTREAM}

The files in this folder (conversations.jsonl, gaps.json, kb/*.md) are a modified subset derived from the
MTRAG / MTRAG-UN benchmark, published by IBM Research (International Business Machines Corporation) and
licensed under the Apache License, Version 2.0 (the "License"); you may not use these files except in
compliance with the License. You may obtain a copy of the License at

    {APACHE_URL}

Unless required by applicable law or agreed to in writing, software and data distributed under the License
are distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and limitations under the License.

Modifications: see SOURCE.md (subset of the govt collection, whitespace normalisation, synthetic outcome
metadata, and synthetic evasive answers + human handovers in the 3 gap conversations).

The passages come from U.S. government web pages (MTRAG's govt corpus).
"""
    if APACHE_LOCAL.is_file():
        notice += "\n" + "=" * 78 + "\n\n" + APACHE_LOCAL.read_text(encoding="utf-8")
    (out / "LICENSE-MTRAG.txt").write_text(notice, encoding="utf-8")


# --- check ------------------------------------------------------------------------------------------


def read_front_matter(path: Path) -> tuple[dict, str]:
    import yaml

    text = path.read_text(encoding="utf-8")
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head), body.strip()


def check(out: Path) -> bool:
    from bot.llm.base import AnswerRequest, ArticleSnippet, Turn
    from bot.llm.offline import MATCH_COVERED, OfflineLLM

    ok = MATCH == MATCH_COVERED
    if not ok:
        print(f"MATCH ({MATCH}) differs from bot.llm.offline.MATCH_COVERED ({MATCH_COVERED})")
    articles = []
    for i, path in enumerate(sorted((out / "kb").glob("*.md")), 1):
        meta, body = read_front_matter(path)
        articles.append(ArticleSnippet(id=i, title=str(meta["title"]), text=body))
    llm = OfflineLLM()
    print(f"kb: {len(articles)} articles")
    for gap in json.loads((out / "gaps.json").read_text(encoding="utf-8")):
        q = gap["question"]
        best = max(articles, key=lambda a: coverage(q, a.title + " " + a.text))
        kb_cov = coverage(q, best.title + " " + best.text)
        ans_cov = coverage(q, gap["reference_answer"])
        gold_cov = max(coverage(q, p["text"]) for p in gap["gold_passages"])
        before = llm.answer(AnswerRequest(history=[Turn(role="user", text=q)], articles=articles))
        fixed = ArticleSnippet(id=-1, title="", text=gap["reference_answer"])
        after = llm.answer(AnswerRequest(history=[Turn(role="user", text=q)], articles=[*articles, fixed]))
        good = kb_cov < MATCH_COVERED <= ans_cov and not before.knows and after.knows
        ok &= good
        print(
            f"{'OK  ' if good else 'FAIL'} {gap['conversation_id']}\n"
            f"     question: {q}\n"
            f"     content terms: {len(set(content_terms(q)))}\n"
            f"     (a) best kb/ coverage {kb_cov:.2f} ({best.title!r}) -> agent knows: {before.knows}\n"
            f"     (b) reference-answer article coverage {ans_cov:.2f} -> agent knows: {after.knows}\n"
            f"     gold passage coverage {gold_cov:.2f}"
        )
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    kb_size = sum(p.stat().st_size for p in (out / "kb").glob("*.md"))
    for name, size in sizes.items():
        print(f"  {name:22s} {size:>9,d} B")
    print(f"  {'kb/*.md':22s} {kb_size:>9,d} B")
    print(f"  {'total':22s} {sum(sizes.values()) + kb_size:>9,d} B")
    return ok


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="MTRAG-UN generation_tasks/reference.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="output folder (e.g. bot/demo_data)")
    parser.add_argument("--check", action="store_true", help="print and verify the gap coverage figures")
    args = parser.parse_args(list(argv) if argv is not None else None)
    summary = build(args.source, args.out)
    print(f"wrote {summary['conversations']} conversations, {summary['kb']} kb articles to {args.out}")
    print(f"gap conversations: {', '.join(summary['gaps'])}")
    if args.check:
        return 0 if check(args.out) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
