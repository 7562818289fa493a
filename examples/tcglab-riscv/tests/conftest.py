"""pytest's hooks for the tcglab-riscv tests (their shared helpers are in rvsupport.py).

Run from tcglab's checkout with the plugin installed:
``pip install ./examples/tcglab-riscv && python3 -m pytest -q examples/tcglab-riscv/tests``.
Without it, every test module here is skipped, naming the reason (an error under
``TCGLAB_REQUIRE_ORACLES=1``, as a missing oracle is).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # rvsupport, rvasm, lockstep, cases

from rvsupport import NOT_INSTALLED, oracles_required  # noqa: E402


class _NotInstalled(pytest.Module):
    """A test module of the example, collected without importing it: the distribution is
    missing, so it is skipped (or, under TCGLAB_REQUIRE_ORACLES=1, an error) as a whole."""

    def collect(self):
        if oracles_required():
            pytest.fail(f"TCGLAB_REQUIRE_ORACLES=1 but {NOT_INSTALLED}", pytrace=False)
        pytest.skip(NOT_INSTALLED)


def pytest_pycollect_makemodule(module_path, parent):
    """Without the distribution, each test module here skips with the reason why, instead
    of failing collection at its ``import tcglab_riscv``."""
    if NOT_INSTALLED:
        return _NotInstalled.from_parent(parent, path=module_path)
    return None
