"""Publish to a folder of Markdown files with YAML front matter, one file a slug (`<slug>.md`).

An article that came from this folder (`kb sync markdown`, external id = its path in the folder, such as
`billing/refunds.md`) is written back in place, and the front-matter keys Flywheel does not manage (`locale`,
`description`, a site's own keys) are kept: an update never adds a second file nor drops what the docs team set.

The files read back with `flywheel kb import` (same front matter). When the folder is inside a git work
tree, each publish commits that one file with a fixed author (`FLYWHEEL_MARKDOWN_GIT_COMMIT=false` turns
it off); a static site or docs repository can deploy from there.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from bot.errors import InvalidInput, PublishError
from bot.integrations.settings import IntegrationSettings
from bot.kb.sync import readable_slug
from bot.publishers import ArticleToPublish, PublishReceipt

log = logging.getLogger(__name__)

GIT_AUTHOR = ("Flywheel", "flywheel@localhost")
GIT_TIMEOUT = 30.0
FILE_MODE = 0o644  # readable by the static site or docs build that serves the folder
_FILE = re.compile(r"[^\W_][\w-]{0,150}\.md")  # Unicode letters and digits: a Japanese title stays readable
_DIR = re.compile(r"[^\W_.][\w. -]{0,150}")  # a folder of a synced file: no `..`, no hidden folder
MANAGED = ("title", "slug", "version", "tags", "gap_id", "author", "source_conversations", "updated_at")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _relative(name: str) -> bool:
    """A path inside the folder made of plain parts (`billing/refunds.md`): no `..`, no absolute path."""
    *folders, last = name.split("/")
    return bool(_FILE.fullmatch(last)) and len(folders) <= 16 and all(_DIR.fullmatch(f) for f in folders)


def file_name(article: ArticleToPublish) -> str:
    """Stable: the path it was published (or synced) under before, else `<slug>.md` (never outside the folder)."""
    if article.external_id and _relative(article.external_id):
        return article.external_id
    stem = readable_slug(article.slug, limit=150).strip("-_")
    return f"{stem or f'gap-{article.gap_id or 0}'}.md"


def render(article: ArticleToPublish, now: dt.datetime, kept: dict[str, Any] | None = None) -> str:
    """The file: Flywheel's front-matter keys, after the file's own other keys (`kept`), then the body."""
    # str(): a CLI user is an `Operator` (a str subclass) that safe_dump refuses
    meta = {k: v for k, v in (kept or {}).items() if isinstance(k, str) and k not in MANAGED}
    meta |= {"title": article.title, "slug": article.slug, "version": article.version, "tags": list(article.tags),
            "gap_id": article.gap_id, "author": str(article.author) if article.author else None,
            "source_conversations": list(article.source_conversations), "updated_at": now.isoformat()}
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n{article.body.strip()}\n"


class MarkdownPublisher:
    name = "markdown"

    def __init__(self, folder: Path, *, base_url: str | None = None, git_commit: bool = True,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.folder, self.base_url, self.git_commit, self.clock = Path(folder), base_url, git_commit, clock

    @classmethod
    def from_settings(cls, conf: IntegrationSettings) -> MarkdownPublisher:
        conf.require("markdown_dir", connector="Markdown folder")
        assert conf.markdown_dir is not None
        return cls(conf.markdown_dir, base_url=conf.markdown_base_url, git_commit=conf.markdown_git_commit)

    def _kept(self, path: Path, name: str) -> dict[str, Any]:
        """The front matter of the file being replaced (its keys Flywheel does not manage are kept)."""
        from bot.kb.markdown import read_doc

        try:
            doc = read_doc(path, self.folder.resolve())
        except (InvalidInput, OSError) as exc:
            reason = exc.message if isinstance(exc, InvalidInput) else type(exc).__name__
            raise PublishError(f"{name} is in FLYWHEEL_MARKDOWN_DIR but cannot be read ({reason}); it was left as "
                               "it is. Fix the file, then publish again.") from None
        return dict(doc.meta) if doc is not None else {}

    def publish(self, article: ArticleToPublish) -> PublishReceipt:
        name = file_name(article)
        path = self.folder / name
        if not path.parent.resolve().is_relative_to(self.folder.resolve()):  # a linked folder leading out
            raise PublishError(f"{name} leads outside FLYWHEEL_MARKDOWN_DIR; nothing was written.")
        kept = self._kept(path, name) if path.exists() or path.is_symlink() else {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".flywheel-", suffix=".tmp")
            try:
                os.fchmod(fd, FILE_MODE)  # mkstemp makes it 0600
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                    f.write(render(article, self.clock(), kept))
                os.replace(tmp, path)  # atomic: a reader sees the old file or the new one
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as exc:
            raise PublishError(f"Cannot write {name} in FLYWHEEL_MARKDOWN_DIR ({type(exc).__name__}).") from None
        if self.git_commit and self._in_work_tree():
            self._commit(name, article)
        log.info("markdown published file=%r gap_id=%r version=%r", name, article.gap_id, article.version)
        return PublishReceipt(external_id=name, url=self.url(name, article.slug))

    def url(self, name: str, slug: str) -> str:
        if not self.base_url:
            return str((self.folder / name).resolve())
        if "{slug}" in self.base_url:
            return self.base_url.replace("{slug}", quote(slug))
        return f"{self.base_url.rstrip('/')}/{quote(name)}"

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        name, email = GIT_AUTHOR
        env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
               "GIT_COMMITTER_EMAIL": email, "GIT_TERMINAL_PROMPT": "0"}
        return subprocess.run(["git", "-C", str(self.folder), *args], capture_output=True, text=True, env=env,
                              timeout=GIT_TIMEOUT, check=False)

    def _in_work_tree(self) -> bool:
        try:
            done = self._git("rev-parse", "--is-inside-work-tree")
        except (OSError, subprocess.TimeoutExpired):
            return False  # no git installed: a plain folder
        return done.returncode == 0 and done.stdout.strip() == "true"

    def _commit(self, name: str, article: ArticleToPublish) -> None:
        verb = "Add" if article.version <= 1 else "Update"
        title = " ".join(article.title.split())[:120]
        message = (f"{verb} {name}: {title}\n\nPublished by Flywheel (gap #{article.gap_id}, version "
                   f"{article.version}, by {article.author or 'unknown'}).")
        try:
            added = self._git("add", "--", name)
            if added.returncode != 0:
                raise PublishError(f"git add of {name} failed (exit {added.returncode}).")
            if self._git("diff", "--cached", "--quiet", "--", name).returncode == 0:
                log.info("markdown unchanged, nothing to commit file=%r", name)
                return
            done = self._git("-c", "commit.gpgsign=false", "commit", "-q", "-m", message, "--", name)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PublishError(f"git could not commit {name} ({type(exc).__name__}).") from None
        if done.returncode != 0:
            raise PublishError(f"git commit of {name} failed (exit {done.returncode}); the file is written, "
                               "publishing again retries the commit.")

