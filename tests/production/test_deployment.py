"""The deployment files, without Docker: the Dockerfile's entry point and command, and every command in
docker-compose.yml, are real `flywheel` commands (run with --help through the CLI); compose has PostgreSQL
with a volume and a healthcheck, the web process on the port the image exposes, and takes its settings from
.env; every variable it needs is documented in .env.example."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.server import HEALTH_PATH, READY_PATH

ROOT = Path(__file__).resolve().parents[2]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def flywheel_help(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args_without_options(args), "--help"])
    assert result.exit_code == 0, f"`flywheel {' '.join(args)}` is not a command: {result.output}"
    for option in [a for a in args if a.startswith("--")]:
        assert option in result.output, f"`flywheel {args[0]}` has no {option}"


def args_without_options(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")][:1]


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    steps = dockerfile()
    froms = [arg for op, arg in steps if op == "FROM"]
    assert froms[0] == "python:3.12-slim AS build" and froms[-1] == "python:3.12-slim"
    assert any(op == "COPY" and arg.startswith("--from=build /opt/venv") for op, arg in steps)
    assert any(op == "RUN" and 'pip install ".[postgres]"' in arg for op, arg in steps)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "postgres" in extras
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_stage = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
    assert [op for op, _ in last_stage].index("USER") < [op for op, _ in last_stage].index("CMD")
    for op, arg in steps:  # what is copied from the context exists and is not excluded by .dockerignore
        if op == "COPY" and not arg.startswith("--from"):
            for source in arg.split()[:-1]:
                assert (ROOT / source).exists(), source
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for needed in ("bot", "handlers", "storage", "pyproject.toml", "README.md", "manifest.yml"):
        assert needed not in ignored


def test_dockerfile_entrypoint_and_cmd_are_real_commands() -> None:
    steps = dict(dockerfile())
    entry, cmd = json.loads(steps["ENTRYPOINT"]), json.loads(steps["CMD"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry == ["flywheel"] and "flywheel" in scripts
    flywheel_help(cmd)
    assert cmd[cmd.index("--port") + 1] == steps["EXPOSE"] == "3000"
    assert HEALTH_PATH in steps["HEALTHCHECK"]


def test_compose_has_postgres_with_a_volume_and_healthcheck() -> None:
    spec = compose()
    pg = spec["services"]["postgres"]
    assert pg["image"].startswith("postgres:")
    volume, _, mount = pg["volumes"][0].partition(":")
    assert volume in spec["volumes"] and mount == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["migrate", "web", "socket"])
def test_compose_services_run_real_commands_from_env(name: str) -> None:
    service = compose()["services"][name]
    flywheel_help(service["command"])
    assert service["env_file"] == ".env" and service["build"] == "."
    assert service["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://flywheel:")
    assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    if name != "migrate":
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_web_listens_where_the_command_does() -> None:
    web = compose()["services"]["web"]
    command = web["command"]
    assert web["ports"] == [f"{command[command.index('--port') + 1]}:3000"]
    assert READY_PATH in " ".join(web["healthcheck"]["test"])


def test_every_variable_compose_reads_is_documented() -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert used and used <= documented, used - documented
