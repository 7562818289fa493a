"""Helpers the test modules share, one module per subject; fixtures stay in conftest.py.

Test modules import from here, never from each other or from a conftest:

* :mod:`tests.support.toy`: machines running the toy ISA (tests/toyisa.py) and RAM access.
* :mod:`tests.support.hightoy`: the toy ISA as a non-ARM guest (RAM high, EM_RISCV ELFs).
* :mod:`tests.support.oracles`: optional peers (unicorn, keystone, qemu): skip, or fail
  under ``TCGLAB_REQUIRE_ORACLES=1``.
* :mod:`tests.support.a32`: assemble A32 with keystone and run it on the ARM frontend.
* :mod:`tests.support.arm_workloads`: the bundled ARM workloads' cases and a runner.
* :mod:`tests.support.arm_lockstep`: tcglab and unicorn stepped side by side.
* :mod:`tests.support.virt_board`: the ``virt`` board on fake registers, semihosting calls.
* :mod:`tests.support.llsc`: the LL/SC toy programs and the policies under test.
* :mod:`tests.support.irgen`: random IR translation blocks (a hypothesis strategy).
* :mod:`tests.support.diff_backends`: which backends the differential tests run.

tests/toyisa.py stays beside them: it is the small frontend the README and the frontend
guide point authors to, and a plugin module loaded by name (``tests.toyisa``).
"""
