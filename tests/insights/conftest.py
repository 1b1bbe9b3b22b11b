"""The insight tests share one world of known loop history: see `tests/support/world.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services import Services
from tests.support.world import World, build_world


@pytest.fixture
def world(services: Services, tmp_path: Path) -> World:
    return build_world(services, tmp_path)
