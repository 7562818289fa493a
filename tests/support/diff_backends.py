"""The backends the differential tests run: every registered one but the interpreter.

The differential tests compare each backend with :data:`REFERENCE` (the interpreter).
A backend whose construction raises a :class:`~core.errors.TcglabError` saying its
runtime is not installed (arm-host needs unicorn and keystone) is skipped, or fails when
``TCGLAB_REQUIRE_ORACLES=1``, as the oracle tests in ``tests/arm`` do.
``TCGLAB_DIFF_BACKENDS=pyjit,arm-host`` picks backends by name instead (``interp`` there
diffs the interpreter with itself, which checks the machinery, not a backend).
"""

from __future__ import annotations

import functools
import os
import re

import pytest

from core.errors import TcglabError
from core.plugins import PluginManager
from tests.support.irgen import VARIANTS, irgen_machine
from tests.support.oracles import oracles_required

REFERENCE = "interp"
BACKENDS_ENV = "TCGLAB_DIFF_BACKENDS"
# how a backend says that the host library it runs on is absent
_RUNTIME_MISSING = re.compile(r"not installed|missing|unavailable|no module named", re.I)


def diff_backends() -> list[str]:
    chosen = os.environ.get(BACKENDS_ENV, "").strip()
    if chosen:
        return [name.strip() for name in chosen.split(",") if name.strip()]
    registry = PluginManager(autoload=False).registry  # the machines below load the same
    return [name for name, _cls, _plugin in registry.backends if name != REFERENCE]


def with_variants(names: list[str]) -> list[str]:
    """``names`` and the :data:`~tests.support.irgen.VARIANTS` of those backends."""
    return names + [v for v in VARIANTS if v.split(":")[0] in names]


@functools.lru_cache(maxsize=None)
def missing_runtime(backend: str) -> str | None:
    """Why ``backend`` cannot be constructed here, if that is a missing runtime; else None.

    Any other error constructing it is a failure of the backend, and propagates.
    """
    try:
        irgen_machine(backend)
    except TcglabError as exc:
        if _RUNTIME_MISSING.search(str(exc)):
            return str(exc)
        raise
    return None


def usable(name: str) -> str:
    """``name``, if its backend can run here; else skip (fail under REQUIRE_ORACLES)."""
    why = missing_runtime(name)
    if why is not None:
        if oracles_required():
            pytest.fail(f"backend {name!r} cannot run and TCGLAB_REQUIRE_ORACLES=1: {why}")
        pytest.skip(f"backend {name!r} cannot run here: {why}")
    return name
