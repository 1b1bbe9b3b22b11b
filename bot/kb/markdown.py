"""Import a folder of Markdown files into the KB, and export the KB as Markdown with front matter.

Neither leaves its folder: import skips a file (or a link) that resolves outside it and refuses a
front-matter slug that is a path (`../../x`, `/etc/x`); export names each file after a safe form of the
slug and replaces, never follows, a link already at that name (docs/SECURITY.md, "Secrets").
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.kb import KnowledgeBase
from bot.kb.sync import readable_slug
from storage.models import Article

FRONT = "---"
SLUG_BYTES = 200  # UTF-8 bytes: with ".md", under the 255-byte file name limit of every common file system
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])", re.IGNORECASE)


def is_safe_slug(slug: str) -> bool:
    """A file name on every OS, in any script: Unicode letters, digits and combining marks, `-` and `_`;
    it starts with a letter or digit (not `-`, `_` or a dot); no dot, separator, space or control character."""
    if not slug or len(slug.encode("utf-8")) > SLUG_BYTES or unicodedata.category(slug[0])[0] not in "LN":
        return False
    return all(c in "-_" or unicodedata.category(c)[0] in "LMN" for c in slug)


def file_stem(slug: str, article_id: int) -> str:
    """The export file name (without `.md`): the slug itself when safe, else a safe form plus the id (also
    for a name Windows reserves: `con`, `nul`, `com1`…)."""
    if is_safe_slug(slug) and not _WINDOWS_RESERVED.fullmatch(slug):
        return slug
    return f"{readable_slug(slug, limit=150).strip('-_') or 'article'}-{article_id}"


def _stem_slug(stem: str) -> str:
    """The slug of a file without a front-matter one: its name, readable in any script (NFKC, so a name
    stored decomposed, as macOS does, gives the same slug), cut to `SLUG_BYTES`."""
    slug = readable_slug(stem)
    while len(slug.encode("utf-8")) > SLUG_BYTES:
        slug = slug[:-1]
    return slug.strip("-_") or "article"


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


@dataclass
class MarkdownImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def parse_markdown(text: str, *, fallback_title: str) -> tuple[dict[str, Any], str]:
    meta: dict[str, Any] = {}
    body = text
    if text.startswith(FRONT + "\n") or text.startswith(FRONT + "\r\n"):
        head, sep, rest = text[len(FRONT) + 1 :].partition("\n" + FRONT)
        if not sep:
            raise InvalidInput("front matter starts with '---' but never ends")
        loaded = yaml.safe_load(head) or {}
        if not isinstance(loaded, dict):
            raise InvalidInput("front matter must be a YAML mapping")
        meta = loaded
        body = rest.lstrip("-").lstrip("\r\n")
    if "title" not in meta:
        first = body.lstrip().splitlines()[0] if body.strip() else ""
        if first.startswith("# "):
            meta["title"] = first[2:].strip()
            body = body.lstrip()[len(first) :].lstrip("\n")
        else:
            meta["title"] = fallback_title
    return meta, body.strip()


def import_folder(kb: KnowledgeBase, session: Session, folder: Path, *, author: str | None) -> MarkdownImportReport:
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder of Markdown files.")
    report = MarkdownImportReport()
    root = folder.resolve()
    for path in sorted(folder.rglob("*.md")):
        if not _inside(path, root):  # a symlink (or a linked folder) that leads out of the folder
            report.errors.append(f"{path.name}: it links outside the folder")
            continue
        try:
            meta, body = parse_markdown(
                path.read_text(encoding="utf-8"), fallback_title=path.stem.replace("-", " ")
            )
            tags = meta.get("tags") or []
            if not isinstance(tags, list):
                tags = [str(tags)]
            slug = str(meta.get("slug") or _stem_slug(path.stem))
            if not is_safe_slug(slug):
                raise InvalidInput("the slug must be letters, digits, - and _ (not a path)")
            existed = session.scalar(select(Article.id).where(Article.slug == slug)) is not None
            _, changed = kb.save(
                session,
                title=str(meta["title"]),
                body=body,
                tags=[str(t) for t in tags],
                author=author,
                slug=slug,
            )
        except (InvalidInput, UnicodeDecodeError, yaml.YAMLError) as exc:
            reason = exc.message if isinstance(exc, InvalidInput) else type(exc).__name__
            report.errors.append(f"{path.name}: {reason}")
            continue
        if not changed:
            report.unchanged += 1
        elif existed:
            report.updated += 1
        else:
            report.created += 1
    return report


def export_folder(kb: KnowledgeBase, session: Session, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    count = 0
    for article in kb.list(session):
        meta = {
            "title": article.title,
            "slug": article.slug,
            "tags": list(article.tags),
            "version": article.version,
            "source_gap": article.source_gap_id,
            "updated_at": article.updated_at.isoformat() if article.updated_at else None,
        }
        head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip()
        _write_inside(root, f"{file_stem(article.slug, article.id)}.md", f"---\n{head}\n---\n\n{article.body}\n")
        count += 1
    return count


def _write_inside(root: Path, name: str, content: str) -> None:
    """Write `root/name` atomically; a link at that name is replaced by the file, its target untouched."""
    if Path(name).name != name or not is_safe_slug(name.removesuffix(".md")):
        raise InvalidInput(f"refusing to write {name!r} outside {root}")
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".flywheel-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(tmp, root / name)
    finally:
        Path(tmp).unlink(missing_ok=True)
