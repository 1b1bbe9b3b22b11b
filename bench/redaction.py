"""Precision and recall of the PII redactor, per kind, on the labelled set bench/data/redaction_set.jsonl.

    .venv/bin/python -m bench.redaction            # rewrites only the redaction section of bench/RESULTS.md
    .venv/bin/python -m bench.redaction --errors   # also prints every miss and false positive
    make bench                                     # runs it with the others (bench/run.py)

Span level, on the default redactor (default regions, no allowlist, no extra patterns):
* a PII value counts as caught when every character of it is inside a redacted span (any label);
* a redacted span of kind K is a true positive when it overlaps a labelled value of kind K, otherwise a
  false positive of K (a look-alike it altered, a value of another kind it mislabelled, or plain text);
* a look-alike ("keep") is altered when any redacted span touches it.
Regenerate the set with `python -m bench.make_redaction_set`.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Result
from bot.redact import PiiKind, Redactor

DATA = Path(__file__).resolve().parent / "data" / "redaction_set.jsonl"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- redaction:start -->", "<!-- redaction:end -->"
RECALL_TARGET, PRECISION_TARGET = 0.98, 0.95


@dataclass
class Scores:
    positives: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    keep: Counter[str] = field(default_factory=Counter)
    altered: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    items: int = 0
    seconds: float = 0.0

    def recall(self, kind: str) -> float:
        return self.caught[kind] / self.positives[kind] if self.positives[kind] else 1.0

    def precision(self, kind: str) -> float:
        found = self.tp[kind] + self.fp[kind]
        return self.tp[kind] / found if found else 1.0


def score(path: Path = DATA, redactor: Redactor | None = None, split: str | None = None) -> Scores:
    redactor = redactor or Redactor()
    s = Scores()
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if split and item.get("split") != split:
            continue
        text: str = item["text"]
        start = time.perf_counter()
        hits = redactor.find(text)
        s.seconds += time.perf_counter() - start
        s.items += 1
        covered = [False] * len(text)
        for h in hits:
            covered[h.start:h.end] = [True] * (h.end - h.start)
        spans = [(sp, text.index(sp["value"])) for sp in item["spans"]]
        for sp, at in spans:
            end = at + len(sp["value"])
            if sp["kind"] == "keep":
                s.keep[sp["what"]] += 1
                if any(covered[at:end]):
                    s.altered[sp["what"]] += 1
                    s.errors.append(f"ALTERED {sp['what']}: {redactor.redact(text)!r}")
            else:
                s.positives[sp["kind"]] += 1
                if all(covered[at:end]):
                    s.caught[sp["kind"]] += 1
                else:
                    s.errors.append(f"MISSED {sp['kind']} {sp['value']!r}: {redactor.redact(text)!r}")
        for h in hits:
            if any(sp["kind"] == h.kind and h.start < at + len(sp["value"]) and at < h.end for sp, at in spans):
                s.tp[h.kind] += 1
            else:
                s.fp[h.kind] += 1
                s.errors.append(f"FALSE {h.kind} {text[h.start:h.end]!r} in {text!r}")
    return s


def table(s: Scores) -> list[str]:
    kinds = [k.value for k in PiiKind]
    lines = ["| kind | positives | caught | recall | redacted spans | false positives | precision | met |",
             "|---|---|---|---|---|---|---|---|"]
    for k in kinds:
        ok = s.recall(k) >= RECALL_TARGET and s.precision(k) >= PRECISION_TARGET
        lines.append(f"| {k} | {s.positives[k]} | {s.caught[k]} | {s.recall(k):.3f} | {s.tp[k] + s.fp[k]} | "
                     f"{s.fp[k]} | {s.precision(k):.3f} | {'yes' if ok else '**no**'} |")
    lines += ["", "| look-alike kept intact | count | altered |", "|---|---|---|"]
    lines += [f"| {what} | {n} | {s.altered[what]} |" for what, n in sorted(s.keep.items())]
    return lines


HOLDOUT_NOTE = (
    "The `holdout` split (49 snippets) was written after the detectors had been tuned on the `tuning` split. "
    "Its first, blind run scored phone recall 0.917 / precision 0.917 and secret recall 0.600 / precision "
    "0.750 (misses: \"1 (800) 555-0111 ext. 42\", \"changed my PIN to 7391\", \"wachtwoord is nu: …\"; "
    "an ISBN taken for a phone); those causes were fixed, so it is no longer blind: the next look-alikes found "
    "in real traffic belong in a new split."
)


def section(s: Scores, path: Path = DATA) -> str:
    locales = Counter(json.loads(line)["locale"] for line in path.read_text(encoding="utf-8").splitlines())
    body = [
        START, "## PII redaction (precision / recall per kind)", "",
        f"Written by `python -m bench.redaction` (also run by `make bench`) on `{path.name}`: {s.items} snippets, "
        f"{sum(s.positives.values())} PII values, {sum(s.keep.values())} look-alikes; locales "
        + ", ".join(f"{loc} {n}" for loc, n in sorted(locales.items()))
        + f". Targets: recall >= {RECALL_TARGET}, precision >= {PRECISION_TARGET} for every kind. "
        f"Span-level scoring (see the module docstring). Redaction time: "
        f"{s.seconds / max(s.items, 1) * 1000:.2f} ms per snippet on average.",
        "", "All snippets:", "", *table(s), "", "The `holdout` split only:", "",
        *table(score(path, split="holdout"))[:9], "", HOLDOUT_NOTE, "", END,
    ]
    return "\n".join(body)


def write_section(text: str, results: Path = RESULTS) -> None:
    """Replace the marked section of RESULTS.md (or append it), keeping everything else."""
    old = results.read_text(encoding="utf-8") if results.exists() else ""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip() + "\n\n" + text + "\n"
    results.write_text(new, encoding="utf-8")


def run(result: Result) -> None:
    """The `bench.run` hook: one row per kind and figure, the table in the details."""
    s = score()
    for k in (k.value for k in PiiKind):
        r, p = s.recall(k), s.precision(k)
        result.add(f"{k}: recall", f"{r:.3f} ({s.caught[k]}/{s.positives[k]})", f">= {RECALL_TARGET}",
                   r / RECALL_TARGET, f">= {RECALL_TARGET}", r >= RECALL_TARGET, bench="redaction")
        result.add(f"{k}: precision", f"{p:.3f} ({s.fp[k]} false)", f">= {PRECISION_TARGET}",
                   p / PRECISION_TARGET, f">= {PRECISION_TARGET}", p >= PRECISION_TARGET, bench="redaction")
    result.details.append(section(s))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the PII redactor on the labelled set.")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--output", type=Path, default=RESULTS, help="Markdown file whose section is rewritten")
    parser.add_argument("--errors", action="store_true", help="print every miss and false positive")
    args = parser.parse_args(argv)
    s = score(args.data)
    if args.errors:
        print("\n".join(s.errors) or "no errors")
    text = section(s, args.data)
    print(text)
    write_section(text, args.output)
    return 0 if all(s.recall(k) >= RECALL_TARGET and s.precision(k) >= PRECISION_TARGET for k in PiiKind) else 1


if __name__ == "__main__":
    raise SystemExit(main())
