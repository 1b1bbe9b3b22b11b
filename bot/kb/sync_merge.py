"""Updates never lose content: a draft that updates an existing article is merged with the article's current
text in the help centre before it is published (a three-way merge by lines: the version the draft started
from, the draft, the help centre's text now). Edits the docs team made there since are kept; where both
changed the same lines, nothing is published and `UpdateConflict` says which lines (the CLI prints it, the
Slack thread shows it as the error of the publish)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from bot.errors import PublishError


@dataclass(frozen=True)
class Conflict:
    base: list[str]  # the lines as the draft's starting point had them
    ours: list[str]  # what the draft makes of them
    theirs: list[str]  # what the help centre has now


@dataclass
class MergeResult:
    text: str
    conflicts: list[Conflict] = field(default_factory=list)
    theirs_changed: bool = False  # the help centre's text differs from the draft's starting point


class UpdateConflict(PublishError):
    """The article changed in the help centre on the same lines the draft changes: nothing was published."""

    def __init__(self, message: str, *, conflicts: list[Conflict], article_id: int) -> None:
        super().__init__(message, retryable=False)
        self.conflicts, self.article_id = conflicts, article_id


def _changes(base: list[str], other: list[str]) -> list[tuple[int, int, list[str]]]:
    matcher = difflib.SequenceMatcher(None, base, other, autojunk=False)
    return [(i1, i2, other[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def _touch(a: tuple[int, int, list[str]], b: tuple[int, int, list[str]]) -> bool:
    """Two changes of the same base lines (or insertions at the same place) cannot both be applied blindly."""
    return a[0] == b[0] or (a[0] < b[1] and b[0] < a[1])


def merge3(base: str, ours: str, theirs: str) -> MergeResult:
    """Apply the draft's changes (base → ours) to the help centre's text (theirs), line by line."""
    b, o, t = base.splitlines(), ours.splitlines(), theirs.splitlines()
    mine, their = _changes(b, o), _changes(b, t)
    conflicts: list[Conflict] = []
    kept: list[tuple[int, int, list[str]]] = list(their)
    for change in mine:
        clash = [c for c in their if _touch(change, c)]
        if not clash:
            kept.append(change)
        elif all(c[2] == change[2] and (c[0], c[1]) == (change[0], change[1]) for c in clash):
            continue  # both made the same change
        else:
            lo, hi = min(change[0], *(c[0] for c in clash)), max(change[1], *(c[1] for c in clash))
            conflicts.append(Conflict(base=b[lo:hi], ours=change[2], theirs=[ln for c in clash for ln in c[2]]))
    out: list[str] = []
    pos = 0
    for i1, i2, lines in sorted(kept, key=lambda c: (c[0], c[1])):
        if i1 < pos:  # overlapping theirs-only changes cannot happen (one diff); guard anyway
            continue
        out += b[pos:i1] + lines
        pos = i2
    out += b[pos:]
    return MergeResult("\n".join(out).strip(), conflicts, theirs_changed=bool(their))


def describe(conflicts: list[Conflict], *, title: str, limit: int = 3) -> str:
    """A user-safe explanation of the conflicting lines (the article's text, never a conversation's)."""
    parts = [f"“{title}” was edited in the help centre on the lines this draft changes, so nothing was published. "
             "The help centre's text is now the article's latest version here: write or edit the draft again "
             "from it, then publish."]
    for c in conflicts[:limit]:
        parts.append("help centre: " + (" / ".join(c.theirs)[:300] or "(removed)") + "\ndraft: "
                     + (" / ".join(c.ours)[:300] or "(removed)"))
    if len(conflicts) > limit:
        parts.append(f"…and {len(conflicts) - limit} more.")
    return "\n".join(parts)
