"""The LL/SC series' IR ops: ``qemu_ldlink_i{8,16,32,64}`` and ``qemu_stcond_i{8,16,32,64}``.

Patch 4/5 of the 2015 series ("tcg-op: create new TCG qemu_ldlink and qemu_stcond
instructions").  The ops carry no policy of their own: their reference semantics call
the machine's memory policy (``load_link`` / ``store_cond``), so one frontend
translation serves every atomic strategy.

Shapes (outputs, inputs, constants):

* ``qemu_ldlink_iN  d, addr, oi``       d = LL(addr); i64 for N = 64, else i32
* ``qemu_stcond_iN  ret, val, addr, oi`` ret = 0 if the store happened, 1 if it failed

The access size is the op's; sign, endianness and alignment come from the MemOp in
``oi``.  Exclusives are single-copy atomic and aligned on ARM, so frontends pass
MO_ALIGN.
"""

from __future__ import annotations

from core.hookspecs import hookimpl
from core.ir import I32, I64, MemOp, OpDef, OpFlag

# plain ints: a MemOp (IntFlag) here would make every memop the policies and the softmmu
# slow paths mask a flag object, each ``&`` about a microsecond, on every LL and SC
SIZES = {8: int(MemOp.MO_8), 16: int(MemOp.MO_16), 32: int(MemOp.MO_32), 64: int(MemOp.MO_64)}
_NOT_SIZE = ~int(MemOp.MO_SIZE)
_FLAGS = OpFlag.CALL_CLOBBER | OpFlag.SIDE_EFFECTS | OpFlag.MEMORY


def _memop(oi: int, size: int) -> int:
    return ((oi >> 4) & _NOT_SIZE) | size


def _ldlink(size: int, mask: int):
    def qemu_ldlink(cpu, addr, oi):
        return cpu.machine.policy.load_link(cpu, addr, _memop(oi, size)) & mask
    return qemu_ldlink


def _stcond(size: int):
    def qemu_stcond(cpu, value, addr, oi):
        return cpu.machine.policy.store_cond(cpu, addr, value, _memop(oi, size))
    return qemu_stcond


def llsc_ops() -> list[OpDef]:
    ops = []
    for bits, size in SIZES.items():
        t = I64 if bits == 64 else I32
        flags = _FLAGS | (OpFlag.I64 if bits == 64 else OpFlag.NONE)
        ops.append(OpDef(f"qemu_ldlink_i{bits}", 1, 1, 1, flags, _ldlink(size, t.mask), (t, I32),
                         f"d = load-link {bits} bits at addr (the memory policy reserves it)"))
        ops.append(OpDef(f"qemu_stcond_i{bits}", 1, 2, 1, flags, _stcond(size), (I32, t, I32),
                         f"store-conditional {bits} bits: ret = 0 stored, 1 failed "
                         "(the memory policy decides)"))
    return ops


@hookimpl
def tcglab_register_ops(registry) -> None:
    for opdef in llsc_ops():
        registry.add_op(opdef)


__all__ = ["llsc_ops"]
