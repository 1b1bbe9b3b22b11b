"""Issue 12, item 10: secrets and files. An empty signing secret is refused at start; a DATABASE_URL password
never shows in the settings' repr or JSON; `kb export` never writes outside its folder and `kb import` skips
links that lead out of it (both through the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import bot.server
from bot.cli import app as cli
from bot.errors import ConfigError
from bot.publishers import ArticleToPublish
from bot.publishers.markdown import MarkdownPublisher
from bot.server import make_wsgi_app
from bot.services import Services
from bot.settings import Settings
from tests.security.conftest import BOT_TOKEN

runner = CliRunner()
PASSWORD = "hunter2-Very-Secret"


@pytest.mark.parametrize("secret", ["", "   "])
def test_serve_refuses_an_empty_signing_secret(tmp_path, slack, monkeypatch, secret) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", secret)
    monkeypatch.setattr(bot.server, "make_server", lambda *a: pytest.fail("the server was started"))
    result = runner.invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 1, result.output
    assert "SLACK_SIGNING_SECRET" in result.output and "Traceback" not in result.output


def test_the_http_edge_refuses_an_empty_secret_too(app, services: Services) -> None:  # type: ignore[no-untyped-def]
    services.settings = services.settings.model_copy(update={"slack_signing_secret": None})
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        make_wsgi_app(app, services)


def test_blank_tokens_read_as_unset() -> None:
    settings = Settings(_env_file=None, slack_signing_secret="", slack_bot_token=" ", openai_api_key="")  # type: ignore[call-arg]
    assert settings.slack_signing_secret is None and settings.slack_bot_token is None
    assert settings.use_openai is False


def test_the_database_password_never_shows() -> None:
    url = f"postgresql+psycopg://flywheel:{PASSWORD}@db.internal:5432/flywheel"
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    for shown in (repr(settings), str(settings), settings.model_dump_json(), f"{settings!r}"):
        assert PASSWORD not in shown
        assert "db.internal" in shown and "***" in shown  # still useful: host and user are there
    assert settings.database_url == url  # the engine still gets the real one


def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'kb.db'}")
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")
    assert runner.invoke(cli, ["init"]).exit_code == 0


def test_kb_export_stays_in_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli_env(monkeypatch, tmp_path)
    from bot.services import build_services

    svc = build_services(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'kb.db'}"))  # type: ignore[call-arg]
    work = tmp_path / "a" / "b"
    out = work / "export"
    outside = tmp_path / "victim.md"
    outside.write_text("untouched", encoding="utf-8")
    with svc.session() as s:  # slugs an older version or another tool could have stored
        for slug in ("../../../escape", str(tmp_path / "absolute"), "..", "ok-slug"):
            svc.kb.save(s, title=f"Article {slug}", body="Body text.", tags=[], author="t", slug=slug)
    out.mkdir(parents=True)
    (out / "ok-slug.md").symlink_to(outside)  # a link planted where an export file goes
    result = runner.invoke(cli, ["kb", "export", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 4 and "ok-slug.md" in written and all(n.endswith(".md") for n in written)
    assert not (out / "ok-slug.md").is_symlink() and outside.read_text(encoding="utf-8") == "untouched"
    everything = {p.relative_to(tmp_path) for p in tmp_path.rglob("*.md")}
    assert everything == {Path("victim.md"), *(Path("a/b/export") / n for n in written)}


def test_kb_import_skips_links_out_of_the_folder_and_path_slugs(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cli_env(monkeypatch, tmp_path)
    secret_dir = tmp_path / "private"
    secret_dir.mkdir()
    (secret_dir / "keys.md").write_text("# Keys\n\nssh private key material", encoding="utf-8")
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "good.md").write_text("# Good\n\nA fine article.", encoding="utf-8")
    (kb / "inner.md").symlink_to(kb / "good.md")  # a link inside the folder is fine
    (kb / "leak.md").symlink_to(secret_dir / "keys.md")
    (kb / "linked-dir").symlink_to(secret_dir, target_is_directory=True)
    (kb / "evil.md").write_text("---\ntitle: Evil\nslug: ../../x\n---\nBody", encoding="utf-8")
    (kb / "abs.md").write_text(f"---\ntitle: Abs\nslug: {tmp_path / 'y'}\n---\nBody", encoding="utf-8")
    result = runner.invoke(cli, ["kb", "import", str(kb)])
    assert result.exit_code == 3, result.output
    assert "leak.md" in result.output and "outside the folder" in result.output
    assert "evil.md" in result.output and "abs.md" in result.output and "not a path" in result.output
    listing = runner.invoke(cli, ["kb", "list"]).output
    assert "Good" in listing and "Keys" not in listing and "Evil" not in listing and "Abs" not in listing


@pytest.mark.parametrize(("slug", "external_id"), [("../../x", None), ("/etc/passwd", None),
                                                   ("fine", "../../x.md"), ("fine", "/tmp/x.md")])
def test_the_markdown_publisher_stays_in_its_folder(tmp_path: Path, slug: str, external_id: str | None) -> None:
    folder = tmp_path / "site" / "docs"
    receipt = MarkdownPublisher(folder, git_commit=False).publish(
        ArticleToPublish(slug=slug, title="T", body="B", external_id=external_id, gap_id=7))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].parent == folder and receipt.external_id == files[0].name
