"""Import a folder of Markdown files into the KB, and export the KB as Markdown with front matter.

Neither leaves its folder: import skips a file (or a link) that resolves outside it and refuses a
front-matter slug that is a path (`../../x`, `/etc/x`); export names each file after a safe form of the
slug and replaces, never follows, a link already at that name (docs/SECURITY.md, "Secrets").
A folder many people edit is read defensively (`read_doc`, shared with the Markdown sync): no FIFO is opened,
no file over the article cap read whole, front-matter values must be text (a YAML bomb is never expanded), and
each file that fails is named with its reason while the others go on (docs/SECURITY.md, "Round 4").
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import stat
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.integrations.html import MAX_HTML_CHARS
from bot.kb import KnowledgeBase
from bot.kb.front_matter import flag_value
from bot.kb.sync import column_max, readable_slug
from storage.models import Article

FRONT = "---"
SLUG_BYTES = 200  # UTF-8 bytes: with ".md", under the 255-byte file name limit of every common file system
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])", re.IGNORECASE)
MAX_FILE_BYTES = MAX_HTML_CHARS * 4  # a file over the help-centre article cap even if every character took 4 bytes
_TEXT = (str, int, float, dt.date)  # front-matter values taken as text: `title: 2024` is "2024"


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


def printable(name: str) -> str:
    """A file name as a report shows it: control characters (a newline, an escape) and undecodable bytes as `?`."""
    return "".join(c if c.isprintable() else "?" for c in name)


def markdown_files(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every `*.md` under `folder` that is not a folder (sorted), and the folders that could not be listed (why).
    Without recursion (a folder nested 1,000 deep is walked like any other); a linked folder is never walked (no
    loop, nothing from outside); a link named `*.md` is listed, and `read_text_file` judges where it leads."""
    files: list[Path] = []
    unlisted: list[tuple[Path, str]] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:  # gone since it was listed
                        continue
                    if is_dir:
                        stack.append(Path(entry.path))
                    elif entry.name.endswith(".md"):
                        files.append(Path(entry.path))
        except OSError as exc:
            unlisted.append((current, f"the folder cannot be listed ({_os_reason(exc)})"))
    return sorted(files), sorted(unlisted)


def read_text_file(path: Path, root: Path) -> str | None:
    """The text of a Markdown file inside `root` (None: it is gone). A FIFO or a device is never opened for
    reading (that could block for ever), and a file over `MAX_HTML_CHARS` is never read whole. Raises
    `InvalidInput` with the reason otherwise: a loop, a link out of the folder, not UTF-8, NUL bytes, too big."""
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        return None
    except (RuntimeError, OSError) as exc:  # Python < 3.13 raises RuntimeError for a loop, later ones ELOOP
        raise InvalidInput(_os_reason(exc)) from None
    if not real.is_relative_to(root):
        raise InvalidInput("it links outside the folder")
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            raise InvalidInput("not a regular file (a FIFO, a device or a folder)")
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped since the stat above
                raise InvalidInput("not a regular file (a FIFO, a device or a folder)")
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInput(_os_reason(exc)) from None
    too_big = f"over {MAX_HTML_CHARS:,} characters (the help-centre article cap)"
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(too_big)
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not text
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text (byte {exc.start})") from None
    if len(text) > MAX_HTML_CHARS:
        raise InvalidInput(too_big)
    if "\x00" in text:
        raise InvalidInput("a binary file (NUL bytes)")
    return text


def _os_reason(exc: Exception) -> str:
    code = exc.errno if isinstance(exc, OSError) else errno.ELOOP
    if code == errno.ELOOP:
        return "a symlink loop"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return f"cannot be read ({os.strerror(code) if code else type(exc).__name__})"


def text_value(meta: dict[str, Any], key: str, *, limit: int | None = None) -> str | None:
    """A front-matter value as text (None: absent). Text, or a number or date written without quotes; anything
    else (a list, a mapping, yes/no, an empty value, binary) is refused, never turned into text: `str()` of an
    aliased YAML bomb (a billion laughs) builds gigabytes."""
    if key not in meta:
        return None
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, _TEXT):
        raise InvalidInput(f"{key} must be text, not {_kind(value)} (quote it)")
    text = str(value)
    if limit is not None and len(text.strip()) > limit:
        raise InvalidInput(f"{key} over {limit} characters")
    return text


def text_list(meta: dict[str, Any], key: str) -> list[str]:
    """A front-matter list of text (`tags: [a, b]`, or one `tags: a`); absent or empty: []."""
    value = meta.get(key)
    items = value if isinstance(value, list) else [] if value is None or value == "" else [value]
    if any(isinstance(v, bool) or not isinstance(v, _TEXT) for v in items):
        raise InvalidInput(f"{key} must be a list of text, not of lists or mappings")
    return [str(v) for v in items]


def _kind(value: object) -> str:
    kinds = {bool: "yes/no", list: "a list", dict: "a mapping", bytes: "binary", type(None): "empty"}
    return kinds.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class MarkdownDoc:
    """A Markdown file read and checked: its text, front matter, title (at most `articles.title`), tags, body."""

    text: str
    meta: dict[str, Any]
    title: str
    tags: list[str]
    body: str


def read_doc(path: Path, root: Path) -> MarkdownDoc | None:
    """`path` read (`read_text_file`) and parsed (`parse_markdown`), its title and tags checked. None: gone."""
    text = read_text_file(path, root)
    if text is None:
        return None
    meta, body = parse_markdown(text, fallback_title=path.stem.replace("-", " "))
    title = text_value(meta, "title", limit=column_max("title")) or ""
    return MarkdownDoc(text=text, meta=meta, title=title, tags=text_list(meta, "tags"), body=body)


@dataclass
class MarkdownImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)  # `draft: true` / `archived: true`: left out of the KB


def parse_markdown(text: str, *, fallback_title: str) -> tuple[dict[str, Any], str]:
    """(front matter, body). Front matter YAML cannot read raises `InvalidInput` with where, or why, never the text."""
    meta: dict[str, Any] = {}
    body = text
    if text.startswith(FRONT + "\n") or text.startswith(FRONT + "\r\n"):
        head, sep, rest = text[len(FRONT) + 1 :].partition("\n" + FRONT)
        if not sep:
            raise InvalidInput("front matter starts with '---' but never ends")
        loaded = _load_yaml(head) or {}
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


def _load_yaml(head: str) -> Any:
    try:
        return yaml.safe_load(head)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark  # line 1 of the front matter is line 2 of the file
        raise InvalidInput("invalid YAML front matter" + (f" (line {mark.line + 2}, column {mark.column + 1})"
                                                          if mark else "")) from None
    except yaml.YAMLError:
        raise InvalidInput("invalid YAML front matter") from None
    except RecursionError:
        raise InvalidInput("front matter nested too deep") from None
    except (ValueError, TypeError, OverflowError):  # a date such as 2024-13-45, an integer of 5,000 digits
        raise InvalidInput("front matter has a value YAML cannot build (a date that does not exist, or a number "
                           "too long); quote it") from None


def import_folder(kb: KnowledgeBase, session: Session, folder: Path, *, author: str | None) -> MarkdownImportReport:
    """Every Markdown file under `folder` into the KB; a file that cannot be read, parsed or stored as it says is
    named in `errors` with its reason (relative path), and the others go on."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder of Markdown files.")
    report = MarkdownImportReport()
    root = folder.resolve()
    paths, unlisted = markdown_files(folder)
    report.errors += [f"{printable(p.relative_to(folder).as_posix())}/: {why}" for p, why in unlisted]
    claimed: dict[str, str] = {}  # slug → the file that has it in this pass
    for path in paths:
        rel = printable(path.relative_to(folder).as_posix())
        try:
            doc = read_doc(path, root)
            if doc is None:
                raise InvalidInput("it disappeared before it was read")
            if flag_value(doc.meta, "draft") or flag_value(doc.meta, "archived"):  # not for customers yet (or now)
                report.drafts.append(rel)
                continue
            slug = text_value(doc.meta, "slug") or _stem_slug(path.stem)
            if not is_safe_slug(slug):
                raise InvalidInput("the slug must be letters, digits, - and _ (not a path)")
            if slug in claimed:  # two files, one article: the second would silently replace the first
                raise InvalidInput(f"the slug {slug!r} is also {claimed[slug]}'s: give each file its own `slug:`")
            claimed[slug] = rel
            existed = session.scalar(select(Article.id).where(Article.slug == slug)) is not None
            _, changed = kb.save(session, title=doc.title, body=doc.body, tags=doc.tags, author=author, slug=slug)
        except InvalidInput as exc:
            report.errors.append(f"{rel}: {exc.message}")
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
