"""A docs folder many people edit, given to `flywheel kb import DIR` and `flywheel kb sync markdown DIR`: YAML
bombs and bad values, huge, binary and non-UTF-8 files, FIFOs, folders and links named `*.md`, symlink loops,
colliding slugs. Each bad file is named with its reason, the others go on, and a file that cannot be read never
withdraws the article it published (docs/SECURITY.md, "Round 4")."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, run

GOOD = "---\ntitle: Refund times\ntags: [billing]\n---\nRefunds reach your card within 5 business days.\n"
SOME_SKIPPED = 3


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine: Any) -> Path:
    return cli_env(tmp_path, monkeypatch, db_url_engine)


def folder(env: Path, files: dict[str, str]) -> Path:
    docs = env / "docs"
    docs.mkdir(exist_ok=True)
    for name, text in files.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    return docs


def kb_import(docs: Path, code: int = SOME_SKIPPED) -> str:
    return run("kb", "import", str(docs), code=code)


def kb_sync(docs: Path) -> str:
    return run("kb", "sync", "markdown", str(docs))


def bomb(field: str, levels: int = 6, width: int = 10) -> str:
    """Billion laughs, small enough to expand (10**6 strings) if a bug expands it: each level aliases the last."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "---\n" + "\n".join(lines) + f"\n{field}: *l{levels - 1}\n---\nThe body.\n"


@pytest.mark.parametrize("field", ["title", "tags", "slug"])
def test_import_refuses_a_yaml_bomb_without_expanding_it(env: Path, field: str) -> None:
    docs = folder(env, {"bomb.md": bomb(field), "refunds.md": GOOD})
    out = kb_import(docs)
    wanted = "a list of text" if field == "tags" else "text"
    assert f"bomb.md: {field} must be {wanted}" in out and "created 1," in out
    assert len(out) < 2000  # the reason, never the value


def test_sync_refuses_a_yaml_bomb_and_names_it(env: Path) -> None:
    docs = folder(env, {"bomb.md": bomb("title"), "tagbomb.md": bomb("tags"), "refunds.md": GOOD})
    out = kb_sync(docs)
    assert "created 1," in out and "bomb.md: title must be text" in out and "tagbomb.md: tags must be" in out


@pytest.mark.parametrize("value", ["{a: 1}", "[a, b]", "", "yes", "!!binary aGk="])
def test_a_title_that_is_not_text_is_refused(env: Path, value: str) -> None:
    docs = folder(env, {"odd.md": f"---\ntitle: {value}\n---\nBody.\n"})
    assert "odd.md: title must be text" in kb_import(docs)
    assert "Article #" not in run("kb", "list")  # not "None", "True" or "b'hi'"


@pytest.mark.parametrize("cmd", ["import", "sync"])
def test_values_yaml_cannot_build_are_named_not_a_crash(env: Path, cmd: str) -> None:
    docs = folder(env, {"date.md": "---\ntitle: A\nupdated: 2024-13-45\n---\nBody.\n",
                        "number.md": "---\ntitle: B\nviews: " + "9" * 5000 + "\n---\nBody.\n",
                        "deep.md": "---\ntitle: C\nx: " + "[" * 3000 + "]" * 3000 + "\n---\nBody.\n",
                        "syntax.md": "---\ntitle: [unclosed\n---\nBody.\n", "refunds.md": GOOD})
    out = kb_import(docs) if cmd == "import" else kb_sync(docs)  # before: ValueError, RecursionError escaped
    assert "created 1," in out
    assert "date.md: front matter has a value YAML cannot build" in out
    assert "number.md: front matter has a value YAML cannot build" in out
    assert "deep.md: front matter nested too deep" in out
    assert "syntax.md: invalid YAML front matter (line 2, column 17)" in out


def test_a_broken_front_matter_keeps_the_published_article(env: Path) -> None:
    docs = folder(env, {"refunds.md": GOOD, "promo.md": "# Spring promo\n\nUse code SPRING.\n"})
    assert "created 2," in kb_sync(docs)
    (docs / "refunds.md").write_text("---\ntitle: [Refund times\n---\nRefunds take 30 days.\n", encoding="utf-8")
    (docs / "promo.md").unlink()
    out = kb_sync(docs)  # before: "removed from search 2", nothing said about refunds.md
    assert "removed from search 1," in out  # promo.md, which is gone
    assert "could not read 1 (what they published stays as it was):" in out
    assert "  refunds.md: invalid YAML front matter (line 2, column 21)" in out
    assert "Refund times" in run("kb", "search", "refund card days")  # still in search, still v1
    assert "v1" in run("kb", "history", "refund-times") and "v2" not in run("kb", "history", "refund-times")
    (docs / "refunds.md").write_text(GOOD.replace("5 business", "3 business"), encoding="utf-8")
    assert "updated 1," in kb_sync(docs) and "v2" in run("kb", "history", "refund-times")


def test_unreadable_files_are_named_and_keep_their_articles(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["latin.md", "binary.md", "huge.md", "locked.md", "pipe.md"]
    docs = folder(env, {n: GOOD.replace("Refund times", f"Article {n}") for n in names})
    assert "created 5," in kb_sync(docs)
    (docs / "latin.md").write_bytes("---\ntitle: Crème\n---\nRéponse.\n".encode("latin-1"))
    (docs / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64)
    (docs / "huge.md").write_text("# Huge\n\n" + "word " * 110_000, encoding="utf-8")  # 550 K characters
    (docs / "pipe.md").unlink()
    os.mkfifo(docs / "pipe.md")
    deny_open(monkeypatch, "locked.md")
    out = kb_sync(docs)  # before: "removed from search 5", and not one word about why
    assert "removed from search 0," in out
    assert "latin.md: not UTF-8 text (byte 13)" in out and "binary.md: not UTF-8 text" in out
    assert "huge.md: over 524,288 characters" in out and "locked.md: permission denied" in out
    assert "pipe.md: not a regular file" in out and "could not read 5 (what they published stays as it was)" in out
    listing = run("kb", "search", "refunds card business", "--k", "10")
    assert all(f"Article {n}" in listing for n in names)


def test_a_folder_that_cannot_be_listed_withdraws_nothing(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = folder(env, {"refunds.md": GOOD, "team/promo.md": "# Spring promo\n\nUse code SPRING.\n",
                        "old.md": "# Old\n\nGone soon.\n"})
    assert "created 3," in kb_sync(docs)
    (docs / "old.md").unlink()
    real_scandir = os.scandir

    def refusing(path: Any = ".") -> Any:
        if os.fspath(path).endswith("team"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    out = kb_sync(docs)  # before: the folder was skipped in silence and its articles left search
    assert "removed from search 0," in out and "team/: the folder cannot be listed (permission denied)" in out
    assert "Spring promo" in run("kb", "search", "spring code")
    monkeypatch.setattr(os, "scandir", real_scandir)
    assert "removed from search 1," in kb_sync(docs)  # old.md, once every folder is listed again


def deny_open(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The file system refuses to open `name` (root, which runs the tests, could read a chmod 000 file)."""
    real_open = os.open

    def refusing(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if os.fspath(path).endswith(name):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", refusing)


def test_import_names_files_that_are_not_markdown_text(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = folder(env, {"refunds.md": GOOD})
    (docs / "latin.md").write_bytes("# Crème\n\nRéponse.\n".encode("latin-1"))
    (docs / "nul.md").write_text("# Nul\n\nA\x00B\n", encoding="utf-8")  # PostgreSQL refuses a NUL
    (docs / "bom.md").write_text("\ufeff---\ntitle: With a BOM\n---\nSaved by a Windows editor.\n", encoding="utf-8")
    with (docs / "huge.md").open("wb") as f:  # 200 MB, sparse: refused by its size, never read
        f.truncate(200 * 1024 * 1024)
    (docs / "forged\nskipped refunds.md: x.md").write_bytes(b"caf\xe9")  # a name that would forge a report line
    deny_open(monkeypatch, "locked.md")
    (docs / "locked.md").write_text(GOOD, encoding="utf-8")
    out = kb_import(docs)
    assert "skipped forged?skipped refunds.md: x.md: not UTF-8 text (byte 3)" in out
    assert "created 2," in out  # refunds.md and bom.md
    assert "latin.md: not UTF-8 text (byte 4)" in out and "nul.md: a binary file (NUL bytes)" in out
    assert "huge.md: over 524,288 characters" in out and "locked.md: permission denied" in out
    listing = run("kb", "list")
    assert "With a BOM" in listing and "---" not in listing  # before: the front matter became the body


def test_import_walks_links_loops_and_odd_names_safely(env: Path) -> None:
    docs = folder(env, {"refunds.md": GOOD, "guides.md/inner.md": "# Inner\n\nIn a folder named guides.md.\n"})
    (docs / "gone.md").symlink_to(docs / "deleted-meanwhile.md")  # a file that disappeared mid-pass
    (docs / "loop.md").symlink_to(docs / "loop.md")
    (docs / "a.md").symlink_to(docs / "b.md")
    (docs / "b.md").symlink_to(docs / "a.md")
    (docs / "root.md").symlink_to("/")
    (docs / "here.md").symlink_to(docs)
    (docs / "up").symlink_to("/")  # linked folders are not walked: no loop, nothing from outside
    (docs / "again").symlink_to(docs)
    out = kb_import(docs)  # before: RuntimeError (symlink loop), then IsADirectoryError
    assert "created 2," in out  # refunds.md and guides.md/inner.md
    assert "gone.md: it disappeared before it was read" in out
    assert "loop.md: a symlink loop" in out and "a.md: a symlink loop" in out and "b.md: a symlink loop" in out
    assert "root.md: it links outside the folder" in out and "here.md: not a regular file" in out
    assert out.count("skipped") == 6


def test_a_folder_nested_deeper_than_python_recursion_is_walked(env: Path) -> None:
    top = path = folder(env, {"refunds.md": GOOD})
    try:
        for _ in range(1100):  # rglob (and os.walk) recurse once per level
            path = path / "d"
            path.mkdir()
        (path / "deep.md").write_text("# Deep\n\nAt the bottom.\n", encoding="utf-8")
        assert "created 2," in kb_import(top, code=0)  # before: RecursionError
    finally:  # bottom up: pytest's own clean-up (shutil.rmtree) recurses too, and would fail every later run
        (path / "deep.md").unlink(missing_ok=True)
        while path != top:
            path.rmdir()
            path = path.parent


def test_a_fifo_named_md_is_never_opened_for_reading(env: Path) -> None:
    docs = folder(env, {"refunds.md": GOOD})
    os.mkfifo(docs / "pipe.md")
    stop = threading.Event()

    def writer() -> None:  # answers a reader if one ever opens the pipe (before the fix, import blocked there)
        while not stop.is_set():
            try:
                fd = os.open(docs / "pipe.md", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody reads it
                stop.wait(0.01)
                continue
            os.write(fd, b"# Piped\n\nRead from a pipe.\n")
            os.close(fd)
            return

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        out = kb_import(docs)
    finally:
        stop.set()
        thread.join()
    assert "pipe.md: not a regular file" in out and "created 1," in out and "Piped" not in run("kb", "list")


def test_files_with_the_same_slug_are_refused_not_merged(env: Path) -> None:
    docs = folder(env, {"en/index.md": "# English\n\nHello.\n", "fr/index.md": "# Français\n\nBonjour.\n",
                        "c.md": "---\ntitle: C\nslug: shared\n---\nFrom c.\n",
                        "d.md": "---\ntitle: D\nslug: shared\n---\nFrom d.\n"})
    out = kb_import(docs)  # before: "created 2, updated 2" and the French page replaced the English one
    assert "created 2, updated 0" in out
    assert "fr/index.md: the slug 'index' is also en/index.md's: give each file its own `slug:`" in out
    assert "d.md: the slug 'shared' is also c.md's" in out
    again = kb_import(docs)
    assert "created 0, updated 0, unchanged 2" in again
    listing = run("kb", "list")
    assert "English" in listing and "Français" not in listing and "From d" not in run("kb", "search", "from")


@pytest.mark.parametrize("cmd", ["import", "sync"])
def test_values_too_long_for_the_database_are_refused(env: Path, cmd: str) -> None:
    files = {"long-title.md": f"---\ntitle: {'T' * 301}\n---\nBody.\n", "refunds.md": GOOD}
    if cmd == "sync":
        files |= {"long-locale.md": f"---\ntitle: L\nlocale: {'x' * 33}\n---\nBody.\n",
                  f"{'p' * 200}/{'q' * 60}.md": "# Long path\n\nBody.\n"}
    docs = folder(env, files)
    out = kb_import(docs) if cmd == "import" else kb_sync(docs)  # before, on PostgreSQL: DataError
    assert "created 1," in out and "long-title.md: title over 300 characters" in out
    if cmd == "sync":
        assert "long-locale.md: locale over 32 characters" in out and "path over 255 characters" in out


def test_draft_and_archived_are_read_as_yes_or_no_whatever_the_quotes(env: Path) -> None:
    flags = {"quoted-false": 'draft: "false"', "no": "draft: 'No'", "zero": "archived: 0", "spaced": 'draft: " FALSE "',
             "quoted-true": 'draft: "true"', "yes": "archived: 'YES'", "one": 'draft: "1"', "bare": "draft: true"}
    docs = folder(env, {f"{name}.md": f"---\ntitle: Article {name}\n{flag}\n---\nRefunds reach your card.\n"
                        for name, flag in flags.items()})
    assert "created 4," in kb_sync(docs)  # before: created 1 (any text, "false" too, counted as a draft)
    listing = run("kb", "list")
    assert all(f"Article {n}" in listing for n in ("quoted-false", "no", "zero", "spaced"))
    assert not [n for n in ("quoted-true", "yes", "one", "bare") if f"Article {n}" in listing]


def test_a_draft_flag_that_is_not_yes_or_no_is_refused_and_withdraws_nothing(env: Path) -> None:
    docs = folder(env, {"refunds.md": GOOD, "promo.md": "# Spring promo\n\nUse code SPRING.\n"})
    assert "created 2," in kb_sync(docs)
    (docs / "refunds.md").write_text(GOOD.replace("tags:", 'draft: "maybe"\ntags:'), encoding="utf-8")
    (docs / "promo.md").write_text("---\ntitle: Spring promo\narchived: [2024]\n---\nUse code SPRING.\n",
                                   encoding="utf-8")
    out = kb_sync(docs)  # before: "maybe" and [2024] were true: "removed from search 2"
    assert "removed from search 0," in out and "could not read 2 (what they published stays as it was)" in out
    assert "refunds.md: draft must be true or false (or yes/no, 1/0)\n" in out
    assert "promo.md: archived must be true or false (or yes/no, 1/0), not a list" in out
    assert "Refund times" in run("kb", "search", "refund card days") and "Spring promo" in run("kb", "search", "spring")
