"""Shared fixtures; the helpers behind them live in tests/support/."""

from __future__ import annotations

import pytest

from tests.support.toy import toy_machine


@pytest.fixture
def toy():
    return toy_machine
