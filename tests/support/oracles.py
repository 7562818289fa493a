"""Optional peers of the differential tests (unicorn, keystone, qemu, GNU as).

A test needing one skips when it is absent, except under ``TCGLAB_REQUIRE_ORACLES=1``
(CI), where an absent peer fails: a green CI run has compared against every oracle.
"""

from __future__ import annotations

import importlib
import os

import pytest


def oracles_required() -> bool:
    return os.environ.get("TCGLAB_REQUIRE_ORACLES") == "1"


def oracle_module(name: str, install: str):
    """Import the peer ``name`` for a test module, or skip the module (``install`` says
    how to get it); with TCGLAB_REQUIRE_ORACLES=1 a missing peer fails instead."""
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - exercised only without the test extra
        if oracles_required():
            raise
        pytest.skip(f"{name} is not installed ({install})", allow_module_level=True)
