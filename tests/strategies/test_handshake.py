"""Stores by another vCPU between CPU 0's LL and SC (the toy handshake, slice 1).

* A->B->A on the reserved word: the reservation-based policies fail the SC; the value
  compares (cmpxchg, stop-the-world's value form) and the none control let it succeed.
* A->B: every policy but none fails the SC.
* A store to another page fails no policy's SC.
* A store to a nearby word of the same page is a spurious failure only where the policy
  tracks more than the reserved bytes (a shared hash entry, a large granule).
"""

from __future__ import annotations

import pytest

from tests.support.llsc import ABA_PRONE, ABA_SAFE, CORRECT, OTHER_PAGE, X, handshake, variant_id
from tests.support.toy import read32

ALL = CORRECT + [("none", {})]


@pytest.mark.parametrize("vcpus", [2, 4])
@pytest.mark.parametrize("variant", ABA_SAFE, ids=variant_id)
def test_aba_fails_the_sc(variant, vcpus):
    status, m = handshake(variant, X, aba=True, vcpus=vcpus)
    assert status == 1
    assert read32(m, X) == 0xAAAA  # the failed SC stored nothing
    st = m.policy.stats[0]
    assert (st.sc_ok, st.sc_fail, st.sc_spurious) == (0, 1, 0)  # a real conflict


@pytest.mark.parametrize("vcpus", [2, 4])
@pytest.mark.parametrize("variant", ABA_PRONE, ids=variant_id)
def test_aba_succeeds_under_value_compare_and_none(variant, vcpus):
    status, m = handshake(variant, X, aba=True, vcpus=vcpus)
    assert status == 0
    assert read32(m, X) == 0xAAAB  # installed on top of B, A: the ABA hole
    assert m.policy.stats[0].sc_ok == 1


@pytest.mark.parametrize("variant", ALL, ids=variant_id)
def test_a_then_b_fails_the_sc_except_under_none(variant):
    status, m = handshake(variant, X, aba=False)
    if variant[0] == "none":
        assert (status, read32(m, X)) == (0, 0xAAAB)
    else:
        assert (status, read32(m, X)) == (1, 0xBBBB)
        assert m.policy.stats[0].sc_spurious == 0


@pytest.mark.parametrize("vcpus", [2, 4])
@pytest.mark.parametrize("variant", ALL, ids=variant_id)
def test_store_to_another_page_does_not_fail_the_sc(variant, vcpus):
    # +0x40: OTHER_PAGE itself is 32 KiB from x, the span of store-test's default table
    # (4096 entries of 8 bytes), so it aliases x's entry (see the test below).
    status, m = handshake(variant, OTHER_PAGE + 0x40, aba=True, vcpus=vcpus)
    st = m.policy.stats[0]
    if variant == ("store-test", {"table_size": 1, "granule": 4096}):
        assert (status, st.sc_spurious) == (1, 1)  # one entry: every store aliases
        return
    assert status == 0
    assert read32(m, X) == 0xAAAB
    assert st.sc_fail == 0


NEARBY = X + 8  # same page, next 8-byte granule


@pytest.mark.parametrize("variant, fails", [
    (("cmpxchg", {}), False),
    (("stop-the-world", {}), False),  # byte-precise reservation
    (("stop-the-world", {"check": "value"}), False),
    (("store-test", {}), False),  # another hash entry
    (("store-test", {"table_size": 2}), True),  # x and x+8 alias in a 2-entry table
    (("store-test", {"granule": 16}), True),  # x and x+8 share one 16-byte entry
    (("arm-monitor", {"granule": 8}), False),
    (("arm-monitor", {}), True),  # the 64-byte granule holds both words
    (("arm-monitor", {"granule": 2048}), True),
    (("exclusive-bitmap", {"protection": "page"}), True),
    (("exclusive-bitmap", {"protection": "range"}), False),
    (("none", {}), False),
], ids=lambda v: variant_id(v) if isinstance(v, tuple) else str(v))
def test_store_to_a_nearby_word(variant, fails):
    status, m = handshake(variant, NEARBY, aba=False)
    st = m.policy.stats[0]
    assert status == int(fails)
    assert read32(m, X) == (0xAAAA if fails else 0xAAAB)
    # a failure here is spurious: nobody wrote the reserved bytes
    assert (st.sc_fail, st.sc_spurious) == ((1, 1) if fails else (0, 0))


def test_store_test_default_table_aliases_addresses_32k_apart():
    """4096 entries x 8 bytes: x + 32 KiB shares x's entry, so the SC fails spuriously."""
    status, m = handshake(("store-test", {}), OTHER_PAGE, aba=False)
    assert OTHER_PAGE - X == 4096 * 8
    assert status == 1
    assert m.policy.stats[0].sc_spurious == 1
    status, m = handshake(("store-test", {"table_size": 8192}), OTHER_PAGE, aba=False)
    assert status == 0
