"""A condition right after CMP/SUBS compares the operands (ArmDisas.sub_compare).

The frontend turns ``cmp r0, r1; ble`` into one ``brcond le r0, r1`` instead of
rebuilding LE from NF ZF CF VF, whenever the flags and both operands are provably
unchanged since the subtraction.  These tests run every condition after subtractions
followed by things that must and must not break that (an operand or the flags
rewritten, a conditional CMP, conditional instructions and loads in between), over a
grid of boundary values, on tcglab's interp and pyjit backends and on unicorn, and
compare the results bit for bit.
"""

from __future__ import annotations

import struct

import pytest

from tests.support.a32 import CODE, DATA, STACK, assemble, make_machine
from tests.support.oracles import oracle_module

oracle_module("unicorn", "pip install '.[test]'")
from tests.support.arm_lockstep import make_unicorn  # noqa: E402

pytestmark = pytest.mark.oracle

CONDS = ["eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"]
VALUES = [0, 1, 2, 5, 0x7FFF_FFFE, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE,
          0xFFFF_FFFF, 0x1234_5678, 0x9ABC_DEF0]
PAIRS = [(a, b) for a in VALUES for b in VALUES]
OUT = DATA + 0x2000

# Each body reads r0 and r1 and sets bits of r2 (r3 is scratch): bit k for CONDS[k].
SETS = "\n".join(f"orr{c} r2, r2, #{1 << k}" for k, c in enumerate(CONDS))
BRANCHES = "\n".join(f"b{c} skip{k}\norr r2, r2, #{1 << k}\nskip{k}:"
                     for k, c in enumerate(CONDS))
BODIES = {
    "cmp then conditional insns": f"cmp r0, r1\n{SETS}",
    "cmp then branches": f"cmp r0, r1\n{BRANCHES}",
    "cmp immediate": f"cmp r0, #5\n{SETS}",
    "cmp shifted register": f"cmp r0, r1, lsl #1\n{SETS}",
    "subs into a scratch": f"subs r3, r0, r1\n{SETS}",
    "subs overwriting its first operand": f"mov r3, r0\nsubs r3, r3, r1\n{SETS}",
    "rsbs (operands swapped)": f"rsbs r3, r0, r1\n{SETS}",
    "operand rewritten after cmp": f"cmp r0, r1\nmov r0, #7\nmov r1, #9\n{SETS}",
    "flags rewritten after cmp": f"cmp r0, r1\nadds r3, r0, r0\n{SETS}",
    "conditional cmp": f"cmp r0, #1\ncmpne r0, r1\n{SETS}",
    "conditional insn and a load between": f"cmp r0, r1\naddeq r3, r3, #1\nldr r3, [sp]\n{SETS}",
    "a helper writing no global between": f"cmp r0, r1\nqadd r3, r0, r1\n{SETS}",
}

# Loop over the (a, b) pairs at DATA, one word of r2 per pair at OUT; r4 data, r5 count,
# r6 out.  The body sits in the loop's first TB, after the two loads.
PROGRAM = """
loop:
    ldr r0, [r4], #4
    ldr r1, [r4], #4
    mov r2, #0
{body}
    str r2, [r6], #4
    subs r5, r5, #1
    bne loop
    wfi
"""


def _code(body: str) -> bytes:
    return assemble(PROGRAM.format(body=body), CODE)


def _data() -> bytes:
    return b"".join(struct.pack("<II", a, b) for a, b in PAIRS)


def _results(raw: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(PAIRS)}I", raw))


def run_unicorn(code: bytes) -> list[int]:
    from unicorn.arm_const import UC_ARM_REG_R4, UC_ARM_REG_R5, UC_ARM_REG_R6, UC_ARM_REG_SP

    uc = make_unicorn(1 << 20)
    uc.mem_write(CODE, code)
    uc.mem_write(DATA, _data())
    for reg, value in ((UC_ARM_REG_R4, DATA), (UC_ARM_REG_R5, len(PAIRS)),
                       (UC_ARM_REG_R6, OUT), (UC_ARM_REG_SP, STACK)):
        uc.reg_write(reg, value)
    uc.emu_start(CODE, CODE + len(code) - 4)  # up to the wfi
    return _results(bytes(uc.mem_read(OUT, 4 * len(PAIRS))))


def run_tcglab(code: bytes, backend: str) -> list[int]:
    m = make_machine(backend=backend, max_insns=1_000_000, slice_=0)
    m.memory.write_bytes(CODE, code)
    m.memory.write_bytes(DATA, _data())
    cpu, fe = m.cpus[0], m.frontend
    for n, value in ((15, CODE), (4, DATA), (5, len(PAIRS)), (6, OUT), (13, STACK)):
        fe.set_reg(cpu, n, value)
    m.run()
    assert fe.get_reg(cpu, 5) == 0, "the loop did not finish"
    return _results(m.memory.read_bytes(OUT, 4 * len(PAIRS)))


@pytest.mark.parametrize("body", list(BODIES), ids=list(BODIES))
@pytest.mark.parametrize("backend", ["interp", "pyjit"])
def test_every_condition_after_a_subtraction_matches_unicorn(body, backend):
    code = _code(BODIES[body])
    expected = run_unicorn(code)
    assert any(expected) and len(set(expected)) > 4  # the grid exercises the conditions
    got = run_tcglab(code, backend)
    bad = [(f"{a:#x}", f"{b:#x}", f"{e:#06x}", f"{g:#06x}")
           for (a, b), e, g in zip(PAIRS, expected, got) if e != g]
    assert not bad, f"{len(bad)} pairs differ (a, b, unicorn, tcglab), first: {bad[:3]}"


def _brconds(body: str) -> list[str]:
    m = make_machine()
    m.memory.write_bytes(CODE, assemble(body, CODE))
    cpu = m.cpus[0]
    tb = m.translator.translate(cpu, CODE, m.frontend.tb_flags(cpu), cache=False)
    return [str(op) for op in tb.ops if op.name.startswith("brcond")][:1]  # the first insns


def test_a_branch_after_cmp_compares_the_operands():
    assert _brconds("cmp r0, r1\nble 0x100") == ["brcond_i32 r0,r1,gt,$L0"]
    assert _brconds("cmp r0, #5\nmovhi r2, #1") == ["brcond_i32 r0,$0x5,leu,$L0"]


def test_a_branch_whose_operand_changed_reads_the_flags():
    assert _brconds("subs r0, r0, #1\nbgt 0x100")[0].startswith("brcond_i32 tmp")  # from VF NF
    assert "r1" not in _brconds("cmp r0, r1\nmov r1, #0\nble 0x100")[0]
    # MI PL VS VC are not one comparison of the operands
    assert _brconds("cmp r0, r1\nbmi 0x100") == ["brcond_i32 NF,$0x0,ge,$L0"]
