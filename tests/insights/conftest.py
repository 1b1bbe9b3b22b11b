"""The insight tests share one world of known loop history: see `tests/insights/world.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services import Services
from tests.insights.world import World, build_world


@pytest.fixture
def world(services: Services, tmp_path: Path) -> World:
    return build_world(services, tmp_path)
