"""Read a folder of Markdown files (front matter optional) for the KB sync (`bot/kb/sync.py`).

Each file is one article; its external id is its path inside the folder, its revision a hash of its text.
Every pass lists the whole folder (it is cheap), so a file that was removed leaves search, and a file whose
front matter says `draft: true` (or `archived: true`; also yes/no or 1/0, quoted or not, in any case, so that
`draft: "false"` is not a draft) stays out of it; any other value makes the file unreadable, never a guess.
Files are read as `flywheel kb import` reads them (`bot/kb/markdown.py: read_doc`): a file (or a link) that
resolves outside the folder, a FIFO, a file over the article cap, not UTF-8, or whose front matter cannot be
read, is listed in `SyncPage.unreadable` with its reason, and the article it published stays as it was (an
unreadable file is not a deleted one). A folder that cannot be listed makes the pass incomplete: nothing leaves
search until it can be. `fetch` (an update about to be published) raises for such a file instead of answering
"gone": what a person is editing is never written over.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

from bot.errors import InvalidInput
from bot.integrations.http import SourceError
from bot.kb.front_matter import flag_value
from bot.kb.markdown import markdown_files, printable, read_doc, text_value
from bot.kb.sync import ExternalArticle, SyncPage, column_max

PAGE = 200


class MarkdownFolder:
    name = "markdown"

    def __init__(self, folder: Path, *, base_url: str | None = None) -> None:
        if not folder.is_dir():
            raise InvalidInput(f"{folder} is not a folder of Markdown files.")
        self.folder, self.root, self.base_url = folder, folder.resolve(), base_url

    def _read(self, path: Path) -> ExternalArticle | None:
        """The file's article (None: the file is gone); `InvalidInput` with the reason it cannot be read."""
        rel = path.relative_to(self.folder).as_posix()
        if len(rel) > column_max("external_id"):
            raise InvalidInput(f"path over {column_max('external_id')} characters")
        doc = read_doc(path, self.root)
        if doc is None:
            return None
        locale = text_value(doc.meta, "locale", limit=column_max("locale"))
        url = f"{self.base_url.rstrip('/')}/{rel}" if self.base_url else None
        return ExternalArticle(external_id=rel, locale=locale or None, title=doc.title, body=doc.body,
                               tags=tuple(doc.tags), url=url, revision=hashlib.sha256(doc.text.encode()).hexdigest(),
                               live=not flag_value(doc.meta, "draft") and not flag_value(doc.meta, "archived"))

    def pages(self, cursor: str | None, *, full: bool) -> Iterator[SyncPage]:
        """Pages of `PAGE` articles, read as they are stored (a folder of 100,000 files is never all in memory)."""
        paths, unlisted = markdown_files(self.folder)
        articles: list[ExternalArticle] = []
        unreadable = [(p.relative_to(self.folder).as_posix() + "/", why) for p, why in unlisted]
        for path in paths:
            try:
                article = self._read(path)
            except InvalidInput as exc:
                unreadable.append((path.relative_to(self.folder).as_posix(), exc.message))
                continue
            if article is not None:
                articles.append(article)
            if len(articles) >= PAGE:
                yield SyncPage(articles, cursor, unreadable=unreadable)
                articles, unreadable = [], []
        done = json.dumps({"full_at": int(time.time())})
        yield SyncPage(articles, done, complete=not unlisted, unreadable=unreadable)

    def fetch(self, external_id: str, locale: str | None) -> ExternalArticle | None:
        """The file's article; None only when the file is gone. A file that is there but cannot be read right now
        (its front matter broken mid-edit, permission denied) raises `SourceError`: never taken for a deleted one,
        so an update is never published over it (`bot/kb/sync_update.py: rebase`)."""
        try:
            return self._read(self.folder / external_id)
        except InvalidInput as exc:
            raise SourceError(f"{printable(external_id)} is in the folder but cannot be read right now "
                              f"({exc.message}); it was left as it is. Fix the file (or let its edit finish), then "
                              "try again.") from None
