"""Read a folder of Markdown files (front matter optional) for the KB sync (`bot/kb/sync.py`).

Each file is one article; its external id is its path inside the folder, its revision a hash of its text.
Every pass lists the whole folder (it is cheap), so a file that was removed leaves search, and a file whose
front matter says `draft: true` (or `archived: true`) stays out of it. A file (or a link) that resolves
outside the folder is skipped, as `flywheel kb import` does.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from bot.errors import InvalidInput
from bot.kb.markdown import parse_markdown
from bot.kb.sync import ExternalArticle, SyncPage

PAGE = 200


class MarkdownFolder:
    name = "markdown"

    def __init__(self, folder: Path, *, base_url: str | None = None) -> None:
        if not folder.is_dir():
            raise InvalidInput(f"{folder} is not a folder of Markdown files.")
        self.folder, self.root, self.base_url = folder, folder.resolve(), base_url

    def _read(self, path: Path) -> ExternalArticle | None:
        if not path.resolve().is_relative_to(self.root) or not path.is_file():
            return None
        try:
            text = path.read_text(encoding="utf-8")
            meta, body = parse_markdown(text, fallback_title=path.stem.replace("-", " "))
        except (InvalidInput, UnicodeDecodeError, yaml.YAMLError, OSError):
            return None
        tags = meta.get("tags") or []
        rel = path.relative_to(self.folder).as_posix()
        url = f"{self.base_url.rstrip('/')}/{rel}" if self.base_url else None
        return ExternalArticle(external_id=rel, locale=str(meta["locale"]) if meta.get("locale") else None,
                               title=str(meta["title"]), body=body,
                               tags=tuple(str(t) for t in (tags if isinstance(tags, list) else [tags])), url=url,
                               revision=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                               live=not meta.get("draft") and not meta.get("archived"))

    def pages(self, cursor: str | None, *, full: bool) -> Iterator[SyncPage]:
        found = [a for p in sorted(self.folder.rglob("*.md")) if (a := self._read(p)) is not None]
        done = json.dumps({"full_at": int(time.time())})
        for start in range(0, max(len(found), 1), PAGE):
            last = start + PAGE >= len(found)
            yield SyncPage(found[start:start + PAGE], done if last else cursor, complete=last)

    def fetch(self, external_id: str, locale: str | None) -> ExternalArticle | None:
        return self._read(self.folder / external_id)
