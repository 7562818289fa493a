"""The backends the differential tests run, as fixtures (see tests/support/diff_backends.py).

``diff_backend`` is parametrized over the registered backends except ``interp`` (the
reference they are all compared with); ``ir_diff_backend`` adds the variants of them that
:data:`tests.support.irgen.VARIANTS` names (pyjit's tier 0).  A backend whose runtime is
missing is skipped, or fails when ``TCGLAB_REQUIRE_ORACLES=1``.
"""

from __future__ import annotations

import pytest

from tests.support.diff_backends import diff_backends, usable, with_variants


@pytest.fixture(scope="session", params=diff_backends())
def diff_backend(request) -> str:
    """The name of a backend under test (skipped when its runtime is missing)."""
    return usable(request.param)


@pytest.fixture(scope="session", params=with_variants(diff_backends()))
def ir_diff_backend(request) -> str:
    """``diff_backend`` and the :data:`~tests.support.irgen.VARIANTS` of those backends,
    for the random-IR diff (cheap enough to run a variant; whole workloads are not)."""
    return usable(request.param)
