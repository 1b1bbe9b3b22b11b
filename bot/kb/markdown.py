"""Import a folder of Markdown files into the KB, and export the KB as Markdown with front matter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.kb import KnowledgeBase
from bot.text import slugify
from storage.models import Article

FRONT = "---"


@dataclass
class MarkdownImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def parse_markdown(text: str, *, fallback_title: str) -> tuple[dict, str]:
    meta: dict = {}
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
    for path in sorted(folder.rglob("*.md")):
        try:
            meta, body = parse_markdown(
                path.read_text(encoding="utf-8"), fallback_title=path.stem.replace("-", " ")
            )
            tags = meta.get("tags") or []
            if not isinstance(tags, list):
                tags = [str(tags)]
            slug = str(meta.get("slug") or slugify(path.stem))
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
        (folder / f"{article.slug}.md").write_text(f"---\n{head}\n---\n\n{article.body}\n", encoding="utf-8")
        count += 1
    return count
