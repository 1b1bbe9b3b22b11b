"""Fixtures of the connector tests: settings without any .env, a recording sleep. Shared constants and the
fake KB: `tests/support/connectors.py`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.integrations.settings import IntegrationSettings


@pytest.fixture
def conf() -> Callable[..., IntegrationSettings]:
    def make(**values: object) -> IntegrationSettings:
        return IntegrationSettings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def sleeps() -> list[float]:
    return []
