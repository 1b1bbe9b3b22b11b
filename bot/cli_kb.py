"""`flywheel kb ...`: the built-in knowledge base: add, search, list, import, export, history, diff, rollback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from bot import render
from bot.cli_common import UserOpt, current_user, out

EXIT_SOME_SKIPPED = 3


def register(app: typer.Typer, services: Callable[..., Any]) -> None:
    """Add the `kb` group to the `flywheel` CLI."""
    kb_app = typer.Typer(help="The knowledge base: add, search, import, export, history, diff, rollback.",
                         no_args_is_help=True)
    app.add_typer(kb_app, name="kb")

    @kb_app.command("add")
    def kb_add(title: str, body_file: Path, tags: Annotated[str, typer.Option(help="comma-separated")] = "",
               user: UserOpt = "") -> None:
        """Add an article (or a new version of the one with the same title's slug)."""
        from bot.text import slugify

        svc = services()
        with svc.session() as s:
            article, changed = svc.kb.save(s, title=title, body=body_file.read_text(encoding="utf-8"),
                                           tags=[t.strip() for t in tags.split(",") if t.strip()],
                                           author=user or current_user(), slug=slugify(title))
            out.print(f"Article #{article.id} {article.slug} v{article.version}" + ("" if changed else " (unchanged)"))

    @kb_app.command("search")
    def kb_search(
        query: Annotated[str, typer.Argument(help="the text to search for")] = "",
        k: Annotated[int, typer.Option(min=1, max=50)] = 5,
        conversations: Annotated[Path | None, typer.Option(
            help="JSONL, one conversation a line in the import format: search with each whole conversation")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="one JSON line per query")] = False,
    ) -> None:
        """Search the KB (BM25, the same ranking on SQLite and PostgreSQL); with --conversations, rank the
        articles for each conversation as the agent would (the last user turn weighing most)."""
        import json

        from bot.kb.search import conversation_query

        svc = services()
        if conversations is None:
            if not query.strip():
                raise typer.BadParameter("give a query, or --conversations FILE.jsonl")
            found = svc.kb.search(query, k)
            if as_json:
                print(json.dumps({"query": query, "results": _results(found)}, ensure_ascii=False))
            else:
                render.hits(out, found)
            return
        skipped = 0
        for line_no, conv_id, turns, error in _read_conversations(conversations):
            if error is not None:
                skipped += 1
                print(json.dumps({"line": line_no, "error": error}, ensure_ascii=False))
                continue
            found = svc.kb.search(conversation_query(turns), k)
            if as_json:
                print(json.dumps({"id": conv_id, "line": line_no, "results": _results(found)}, ensure_ascii=False))
            else:
                out.print(f"[bold]{escape(conv_id)}[/]: " + (", ".join(escape(h.slug) for h in found) or "no match"))
        if skipped:
            raise typer.Exit(EXIT_SOME_SKIPPED)

    @kb_app.command("list")
    def kb_list() -> None:
        """List the KB's articles."""
        svc = services()
        with svc.session() as s:
            render.articles(out, svc.kb.list(s))

    @kb_app.command("import")
    def kb_import(folder: Path, user: UserOpt = "") -> None:
        """Import a folder of Markdown files (front matter optional); unchanged files add no version. One import
        at a time across instances: exit 75 while another runs (two at once created an article twice)."""
        from rich.console import Console
        from sqlalchemy.exc import IntegrityError

        from bot.kb.markdown import MarkdownImportReport, import_folder
        from bot.services.locks import EXIT_BUSY, Busy, exclusive

        svc = services()

        def work(_run: object) -> MarkdownImportReport:
            with svc.session() as s:  # one transaction: all of the folder or, on an error, none of it
                return import_folder(svc.kb, s, folder, author=user or current_user())

        try:
            report = exclusive(svc, "kb-import", work, what="A KB import")
        except (Busy, IntegrityError) as exc:  # IntegrityError: a sync or a publish took one of the slugs meanwhile
            why = exc.message if isinstance(exc, Busy) else (
                "Another process (a help-centre sync or a publish) created an article with one of these slugs at "
                "the same moment; nothing of this import was saved. Run it again.")
            Console(stderr=True).print(escape(why), highlight=False)
            raise typer.Exit(EXIT_BUSY) from None
        out.print(f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}")
        if report.drafts:  # front matter `draft: true` / `archived: true`: the agent must not answer from them
            names = ", ".join(escape(d) for d in report.drafts[:20])
            more = f" and {len(report.drafts) - 20} more" if len(report.drafts) > 20 else ""
            out.print(f"left out {len(report.drafts)} draft or archived: {names}{more}", highlight=False)
        for err in report.errors:
            out.print(f"[yellow]skipped[/] {escape(err)}", highlight=False)  # a name such as `[bold]x.md` is not markup
        if report.errors:
            raise typer.Exit(EXIT_SOME_SKIPPED)

    @kb_app.command("sync")
    def kb_sync(
        source: Annotated[str, typer.Argument(help="zendesk, intercom or markdown")],
        folder: Annotated[Path | None, typer.Argument(help="the folder (markdown; default FLYWHEEL_KB_SYNC_DIR)")]
        = None,
        full: Annotated[bool, typer.Option("--full", help="list every article (finds deleted ones)")] = False,
    ) -> None:
        """Sync the team's help centre into the KB: new and changed articles, drafts and deleted ones out of search.
        Incremental (the cursor is kept in the database); see docs/INTEGRATIONS.md, "Help-centre sync"."""
        from bot.services.kb_sync import SyncBusy, run_sync
        from bot.services.locks import EXIT_BUSY

        svc = services()
        try:
            done = run_sync(svc, source, folder=folder, full=full)
        except SyncBusy as exc:  # another sync of this help centre (here or on another instance) is running
            from rich.console import Console

            Console(stderr=True).print(escape(exc.message), highlight=False)
            raise typer.Exit(EXIT_BUSY) from None
        out.print(f"{escape(done.source)}{' (full pass)' if done.full else ''}: created {done.created}, updated "
                  f"{done.updated}, unchanged {done.unchanged}, removed from search {done.removed}, back "
                  f"{done.restored}")
        if done.skipped:  # too big, or no title or body: named so the docs team can look
            names = ", ".join(escape(str(x)) for x in done.skipped[:20])
            more = f" and {len(done.skipped) - 20} more" if len(done.skipped) > 20 else ""
            out.print(f"skipped {len(done.skipped)} (too big, or no title or body): {names}{more}")
        if done.unreadable:  # a broken front matter, not UTF-8, a FIFO…: named with the reason, nothing withdrawn
            from bot.kb.markdown import printable

            out.print(f"[yellow]could not read {len(done.unreadable)}[/] (what they published stays as it was):")
            for name, why in done.unreadable.items():
                out.print(f"  {escape(printable(name))}: {escape(why)}", highlight=False)

    @kb_app.command("export")
    def kb_export(folder: Path) -> None:
        """Export the KB as Markdown files with front matter."""
        from bot.kb.markdown import export_folder

        svc = services()
        with svc.session() as s:
            n = export_folder(svc.kb, s, folder)
        out.print(f"{n} articles written to {folder}")

    @kb_app.command("history")
    def kb_history(article: Annotated[str, typer.Argument(help="article id or slug")]) -> None:
        """Every version of an article: when, who, from which gap, rollbacks, the external receipt."""
        from bot.kb.history import describe, versions

        svc = services()
        with svc.session() as s:
            row = svc.kb.get(s, article)
            table = Table(title=f"Article #{row.id} {escape(row.slug)}: history")
            for col in ("version", "when", "author", "title", "note"):
                table.add_column(col)
            for v in versions(s, row):
                table.add_row(f"v{v.version}", v.created_at.strftime("%Y-%m-%d %H:%M"), escape(v.author or "-"),
                              escape(v.title), escape(describe(v, row.version)))
            out.print(table)

    @kb_app.command("diff")
    def kb_diff(article: Annotated[str, typer.Argument(help="article id or slug")], v1: int, v2: int) -> None:
        """The difference between two versions of an article (unified diff of title, tags and body)."""
        from bot.kb.history import unified_diff, version

        svc = services()
        with svc.session() as s:
            row = svc.kb.get(s, article)
            lines = unified_diff(version(s, row, v1), version(s, row, v2))
        if not lines:
            out.print(f"v{v1} and v{v2} are the same.")
            return
        for line in lines:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            text = escape(line.rstrip("\n"))
            out.print(f"[{style}]{text}[/]" if style else text, highlight=False, soft_wrap=True)

    @kb_app.command("rollback")
    def kb_rollback(
        article: Annotated[str, typer.Argument(help="article id or slug")],
        to_version: Annotated[int, typer.Argument(metavar="VERSION", help="the version whose text goes live again")],
        reason: Annotated[str, typer.Option(help="why (kept in the audit trail)")] = "",
        user: UserOpt = "",
    ) -> None:
        """Restore an older version as a new one (history kept; the team's KB too, same article). Audited."""
        from bot.services.rollback import rollback_article

        svc = services()
        with svc.session() as s:
            article_id = svc.kb.get(s, article).id
        done = rollback_article(svc, article_id=article_id, to_version=to_version, user=user or current_user(),
                                reason=reason or None)
        out.print(f"Article #{done.article_id} rolled back to the text of v{done.restored_from}: now v{done.version}"
                  + (f" (the team's KB too: {escape(done.url)})" if done.url else "") + ".")


def _results(found: list[Any]) -> list[dict[str, Any]]:
    return [{"rank": i, "slug": h.slug, "id": h.article_id, "title": h.title, "score": round(h.score, 6)}
            for i, h in enumerate(found, 1)]


MAX_LINE_CHARS = 8 * 1024 * 1024  # one conversation a line: longer is refused, not read


def _read_conversations(path: Path) -> Any:
    """(line, conversation id, [(role, text)], error) per non-blank line of an import-format JSONL file."""
    import datetime as dt
    import json

    from bot.services.import_parse import BadRecord, Cleaned, parse_record

    if not path.is_file():
        raise typer.BadParameter(f"{path} is not a file")
    now = dt.datetime.now(dt.UTC)
    with path.open(encoding="utf-8", errors="replace", newline="\n") as f:
        for line_no, raw in enumerate(iter(lambda: f.readline(MAX_LINE_CHARS + 1), ""), 1):
            if len(raw) > MAX_LINE_CHARS:  # a huge line (or a binary file) is never read whole into memory
                while raw and not raw.endswith("\n"):
                    raw = f.readline(MAX_LINE_CHARS)
                yield line_no, "", [], f"line over {MAX_LINE_CHARS} characters"
                continue
            if not raw.strip():
                continue
            try:
                conv, messages = parse_record(json.loads(raw), "search", now, Cleaned())
            except (ValueError, RecursionError) as e:  # RecursionError: nested too deep
                yield line_no, "", [], f"invalid JSON ({e if isinstance(e, ValueError) else 'nested too deep'})"
                continue
            except BadRecord as bad:
                yield line_no, "", [], bad.reason
                continue
            yield line_no, conv["external_id"], [(m["role"], m["text"]) for m in messages], None
