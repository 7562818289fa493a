"""The bundled workloads on every registered backend under every registered memory
policy (parametrized over the registry, so a new backend or policy is covered as soon
as it is registered), and the ELFs' provenance."""

from __future__ import annotations

import pytest
from cases import cases, run_tcglab
from rvsupport import WORKLOADS, plugins, run_workload

REGISTRY = plugins().registry
BACKENDS = [name for name, _c, _p in REGISTRY.backends]
POLICIES = [name for name, _c, _p in REGISTRY.memory_policies]

#: what each known policy does to the LR/SC programs (True: the program's check passes).
#: cmpxchg compares values (ABA), none lets every SC succeed (lost updates too).
LRSC_PASSES = {"exclusive-bitmap": (True, True), "stop-the-world": (True, True),
               "store-test": (True, True), "arm-monitor": (True, True),
               "cmpxchg": (True, False), "none": (False, False)}
#: (counter LR/SC passes, aba_window passes)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_workloads_per_backend_and_policy(backend, policy):
    out, result = run_workload("counter", ["4", "20", "1"], 4, policy=policy, backend=backend)
    assert result.exit_status == 0 and "mode=amo total=80 OK" in out  # AMOs: always atomic
    out_c, res_c = run_workload("counter", ["4", "20"], 4, policy=policy, backend=backend,
                                max_insns=400_000)
    out_w, res_w = run_workload("aba_window", ["2", "1"], 4, policy=policy, backend=backend,
                                max_insns=400_000)
    if policy not in LRSC_PASSES:
        return  # a policy this test does not know: only the AMO counter is required
    counter_ok, window_ok = LRSC_PASSES[policy]
    if counter_ok:
        assert (res_c.reason, res_c.exit_status) == ("exit", 0), out_c
    assert (res_w.reason, res_w.exit_status) == (("exit", 0) if window_ok else ("exit", 1)), out_w
    assert ("sc=failed" in out_w) == window_ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_treiber_stack_per_backend(backend):
    """The Treiber stack at 1 and 4 harts (compute: on interp against QEMU and unicorn,
    in test_diff_qemu and test_diff_unicorn)."""
    by_id = {c.id: c for c in cases()}
    assert run_tcglab(by_id["aba-1"], backend=backend) == by_id["aba-1"].expected()
    out, result = run_workload("aba", ["4", "30"], 4, backend=backend)
    assert result.exit_status == 0 and "stack=intact" in out


def test_elfs_are_committed_with_their_sources():
    for program in ("counter", "aba", "aba_window", "compute"):
        elf = WORKLOADS / f"{program}.elf"
        assert elf.is_file() and (WORKLOADS / f"{program}.c").is_file()
        head = elf.read_bytes()[:20]
        assert head[:4] == b"\x7fELF" and head[4] == 1  # ELF32
        assert int.from_bytes(head[18:20], "little") == 243  # EM_RISCV
    for name in ("start.S", "rt.c", "rt.h", "virt.ld", "Makefile", "cases.txt"):
        assert (WORKLOADS / name).is_file()
