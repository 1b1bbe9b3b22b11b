"""Layering rules, checked on the source with `ast` (every import: module level, inside functions, under
`TYPE_CHECKING`, relative ones resolved):

- services know nothing of Slack: no module under bot/services/ imports slack_sdk, slack_bolt, bot.blocks,
  bot.slack, bot.present or handlers (they return plain data; the edges render it);
- the Block Kit builders are pure: bot/blocks/ imports nothing of bot.services, bot.present or storage;
- the presentation layer does no I/O: bot/present/ imports no database, Slack client or handler.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SERVICES_MUST_NOT_IMPORT = ("slack_sdk", "slack_bolt", "bot.blocks", "bot.slack", "bot.present", "handlers")
BLOCKS_MUST_NOT_IMPORT = ("bot.services", "bot.present", "storage", "sqlalchemy", "handlers")
PRESENT_MUST_NOT_IMPORT = ("storage", "sqlalchemy", "slack_sdk.web", "slack_bolt", "bot.slack", "handlers")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything `path` imports; `from a import b` yields `a.b` (b may be a module)."""
    module = _module_name(path, root)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}" if target else alias.name


def _hits(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def violations(package: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    files = sorted((root / package).rglob("*.py"))
    assert files, f"no module under {package}/"
    return [f"{path.relative_to(root)}:{line} imports {name}"
            for path in files for line, name in imports(path, root) if _hits(name, forbidden)]


@pytest.mark.parametrize(("package", "forbidden"), [
    ("bot/services", SERVICES_MUST_NOT_IMPORT),
    ("bot/blocks", BLOCKS_MUST_NOT_IMPORT),
    ("bot/present", PRESENT_MUST_NOT_IMPORT),
])
def test_layers_import_only_what_they_may(package: str, forbidden: tuple[str, ...]) -> None:
    found = violations(package, forbidden)
    assert not found, f"{package}/ must not import {', '.join(forbidden)}:\n" + "\n".join(found)


def test_the_check_sees_every_spelling_of_an_import(tmp_path: Path) -> None:
    pkg = tmp_path / "bot" / "services"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sneaky.py").write_text(
        "from __future__ import annotations\n"
        "import slack_sdk.errors\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from slack_bolt import App\n"
        "def f():\n    from bot.blocks.models import DigestItemView\n    import handlers.present as p\n"
        "from .. import slack\n"
        "from ..blocks import build_digest_item\n"
        "import bot.slackish  # a different module that only starts alike: fine\n"
        "from bot.services import digest  # a sibling service: fine\n"
    )
    found = [v.split(" imports ")[1] for v in violations("bot/services", SERVICES_MUST_NOT_IMPORT, tmp_path)]
    assert sorted(found) == ["bot.blocks.build_digest_item", "bot.blocks.models.DigestItemView", "bot.slack",
                             "handlers.present", "slack_bolt.App", "slack_sdk.errors"]


def test_services_and_builders_agree_on_the_number_of_top_topics() -> None:
    from bot.blocks.insights import TOP_TOPICS
    from bot.services.loop_insights import TOP_TOPICS as SERVICE_TOP_TOPICS

    assert SERVICE_TOP_TOPICS == TOP_TOPICS
