#!/usr/bin/env python3
"""Single-CPU cross-check of a workload ELF under unicorn (not QEMU).

    ./run-unicorn.py PROGRAM.elf [args...]     prints the output and "exit=N"

A minimal model of the platform: RAM at 0x40000000, CPU 0 in SVC mode at the
ELF entry, PSCI through the psci_call symbol (hvc is not available in unicorn:
CPU_ON answers INVALID_PARAMETERS, so programs run on one CPU), and the
semihosting calls the workloads and newlib's rdimon make.  With -v it lists
the semihosting and PSCI calls made and the instruction count.  Needs the
Python packages unicorn and pyelftools.
"""
import struct
import sys

from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_HOOK_INTR, UC_MODE_ARM, Uc
from unicorn.arm_const import (UC_ARM_REG_CPSR, UC_ARM_REG_LR, UC_ARM_REG_PC,
                               UC_ARM_REG_R0, UC_ARM_REG_R1)

RAM, RAM_SIZE = 0x40000000, 128 << 20
NAMES = {0x01: "OPEN", 0x02: "CLOSE", 0x03: "WRITEC", 0x04: "WRITE0", 0x05: "WRITE",
         0x06: "READ", 0x09: "ISTTY", 0x0A: "SEEK", 0x0C: "FLEN", 0x10: "CLOCK",
         0x11: "TIME", 0x13: "ERRNO", 0x15: "GET_CMDLINE", 0x16: "HEAPINFO",
         0x18: "EXIT", 0x20: "EXIT_EXTENDED"}
FEATURES = b"SHFB\x03"   # ":semihosting-features": EXIT_EXTENDED and STDOUT_STDERR


def main(argv):
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    path = argv[0]
    cmdline = " ".join([path.rsplit("/", 1)[-1]] + argv[1:]).encode()
    mu = Uc(UC_ARCH_ARM, UC_MODE_ARM)
    mu.mem_map(RAM, RAM_SIZE)
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD":
                mu.mem_write(seg["p_paddr"], seg.data())
        entry = elf["e_entry"]
        symtab = elf.get_section_by_name(".symtab")
        psci = [s["st_value"] for s in symtab.iter_symbols() if s.name == "psci_call"]
    log, files, status, count = [], {}, [None], [0]

    def rd(a):
        return struct.unpack("<I", mu.mem_read(a, 4))[0]

    def cstr(a):
        out = b""
        while True:
            c = bytes(mu.mem_read(a, 1))
            if c == b"\0":
                return out
            out, a = out + c, a + 1

    def on_intr(uc, intno, _):
        pc = uc.reg_read(UC_ARM_REG_PC)
        if intno != 2 or rd(pc - 4) & 0xFFFFFF != 0x123456:
            print(f"unexpected exception {intno} at {pc:#x}", file=sys.stderr)
            status[0] = 99
            uc.emu_stop()
            return
        op, a, ret = uc.reg_read(UC_ARM_REG_R0), uc.reg_read(UC_ARM_REG_R1), 0
        log.append(NAMES.get(op, hex(op)))
        if op == 0x03:
            sys.stdout.write(chr(mu.mem_read(a, 1)[0]))
        elif op == 0x04:
            sys.stdout.write(cstr(a).decode(errors="replace"))
        elif op == 0x01:
            name = bytes(mu.mem_read(rd(a), rd(a + 8))).decode()
            ret = len(files) + 1
            files[ret] = [FEATURES if name == ":semihosting-features" else b"", 0]
        elif op == 0x05:
            sys.stdout.write(bytes(mu.mem_read(rd(a + 4), rd(a + 8))).decode(errors="replace"))
        elif op == 0x06:
            data, pos = files.get(rd(a), [b"", 0])
            chunk = data[pos:pos + rd(a + 8)]
            mu.mem_write(rd(a + 4), chunk)
            files[rd(a)][1] = pos + len(chunk)
            ret = rd(a + 8) - len(chunk)
        elif op == 0x0A:
            files[rd(a)][1] = rd(a + 4)
        elif op == 0x0C:
            ret = len(files.get(rd(a), [b""])[0])
        elif op == 0x09:
            ret = 1
        elif op == 0x15:
            mu.mem_write(rd(a), cmdline + b"\0")
            mu.mem_write(a + 4, struct.pack("<I", len(cmdline)))
        elif op == 0x16:
            top = RAM + RAM_SIZE
            mu.mem_write(rd(a), struct.pack("<4I", RAM + (64 << 20), top - (1 << 20), top,
                                            top - (1 << 20)))
        elif op in (0x18, 0x20):
            if op == 0x18:
                status[0] = 0 if a == 0x20026 else 1
            else:
                status[0] = rd(a + 4) & 0xFF if rd(a) == 0x20026 else 1
            uc.emu_stop()
            return
        elif op in (0x02, 0x10, 0x11, 0x13):
            ret = 0
        else:
            ret = -1
        uc.reg_write(UC_ARM_REG_R0, ret & 0xFFFFFFFF)

    def on_psci(uc, _a, _s, _u):
        fn = uc.reg_read(UC_ARM_REG_R0)
        log.append(f"PSCI {fn:#x}")
        if fn in (0x84000008, 0x84000002):
            status[0] = 0
            uc.emu_stop()
            return
        uc.reg_write(UC_ARM_REG_R0, (-2 if fn == 0x84000003 else -1) & 0xFFFFFFFF)
        uc.reg_write(UC_ARM_REG_PC, uc.reg_read(UC_ARM_REG_LR))

    def on_code(_uc, _a, _s, _u):
        count[0] += 1

    mu.hook_add(UC_HOOK_INTR, on_intr)
    if psci:
        mu.hook_add(UC_HOOK_CODE, on_psci, begin=psci[0], end=psci[0])
    if verbose:
        mu.hook_add(UC_HOOK_CODE, on_code)
    cpsr = mu.reg_read(UC_ARM_REG_CPSR)
    mu.reg_write(UC_ARM_REG_CPSR, (cpsr & ~0x1F) | 0xD3)     # SVC, IRQ/FIQ masked
    mu.emu_start(entry, 0, count=200_000_000)
    sys.stdout.flush()
    if verbose:
        print(f"# insns={count[0]} calls: {' '.join(log)}", file=sys.stderr)
    print(f"exit={status[0] if status[0] is not None else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
