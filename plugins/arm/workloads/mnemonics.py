#!/usr/bin/env python3
"""List the distinct A32 mnemonics in the workload ELFs (for the frontend).

    ./mnemonics.py [--executed] *.elf > MNEMONICS.txt

Runs arm-none-eabi-objdump -d (OBJDUMP overrides it).  Condition codes are
stripped to give base mnemonics; the raw forms objdump printed are listed too.
Also checks that no ELF contains Thumb code ($t mapping symbols).
With --executed it also runs every case of cases.txt under qemu-system-arm
(QEMU overrides it) with `-d in_asm` and lists the mnemonics of the
instructions QEMU translated, i.e. those the runs actually reach.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

OBJDUMP = os.environ.get("OBJDUMP", "arm-none-eabi-objdump")
CONDS = "eq ne cs hs cc lo mi pl vs vc hi ls ge lt gt le al".split()
# Base A32 mnemonics (UAL, as objdump prints them), with their S forms.
BASE = set("""
adc adcs add adds and ands asr asrs b bic bics bl blx bx clz clrex cmn cmp
cpsid cpsie dmb dsb eor eors hvc isb ldm ldmda ldmdb ldmib ldr ldrb ldrbt ldrd
ldrex ldrexb ldrexd ldrexh ldrh ldrsb ldrsh ldrt lsl lsls lsr lsrs mcr mla mlas
mls mov movs movt movw mrc mrs msr mul muls mvn mvns nop orr orrs pop push ror
rors rrx rrxs rsb rsbs rsc rscs sbc sbcs sbfx sev smlal smlals smull smulls
stm stmda stmdb stmfd stmib str strb strbt strd strex strexb strexd strexh strh
strt sub subs svc teq tst ubfx udf umlal umlals umull umulls uxtb uxth wfe wfi
yield bfc bfi rev rev16 sxtb sxth
""".split())
ALIASES = {
    "push": "stmdb sp!, {...} (or str rX, [sp, #-4]! for one register)",
    "pop": "ldmia sp!, {...} (or ldr rX, [sp], #4 for one register)",
    "lsl": "mov rd, rm, lsl #n / lsl rs", "lsls": "movs ..., lsl",
    "lsr": "mov rd, rm, lsr #n / lsr rs", "lsrs": "movs ..., lsr",
    "asr": "mov rd, rm, asr #n / asr rs", "asrs": "movs ..., asr",
    "ror": "mov rd, rm, ror", "rors": "movs ..., ror",
    "rrx": "mov rd, rm, rrx", "rrxs": "movs rd, rm, rrx",
    "stmfd": "stmdb", "ldm": "ldmia", "stm": "stmia",
    "nop": "mov r0, r0 (ARMv4T code: e1a00000)",
}


def base_of(m):
    if m in BASE:
        return m, ""
    for c in CONDS:
        if m.endswith(c) and m[: -len(c)] in BASE:
            return m[: -len(c)], c
    return m, "?"


def translated_addresses():
    """{elf name: set of addresses QEMU translated} over the cases of cases.txt."""
    qemu = os.environ.get("QEMU", "qemu-system-arm")
    here = os.path.dirname(os.path.abspath(__file__))
    seen = collections.defaultdict(set)
    with open(os.path.join(here, "cases.txt")) as fh:
        cases = [line.split() for line in fh if line.strip() and not line.startswith("#")]
    with tempfile.TemporaryDirectory() as tmp:
        for _id, smp, _mode, prog, *args in cases:
            log = os.path.join(tmp, "in_asm.log")
            cmd = [qemu, "-M", "virt", "-cpu", "cortex-a15", "-smp", smp, "-nographic",
                   "-nic", "none", "-semihosting", "-d", "in_asm", "-D", log,
                   "-kernel", os.path.join(here, prog + ".elf")]
            if args:
                cmd += ["-append", " ".join(args)]
            subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
            with open(log) as lf:
                for line in lf:
                    m = re.match(r"^0x([0-9a-f]+):", line)
                    if m:
                        seen[prog + ".elf"].add(int(m.group(1), 16))
    return seen


def main(elfs):
    executed = "--executed" in elfs
    elfs = [e for e in elfs if e != "--executed"]
    trans = translated_addresses() if executed else None
    exe_base = collections.Counter()
    exe_where = collections.defaultdict(set)
    per_base = collections.Counter()
    where = collections.defaultdict(set)
    raw = collections.Counter()
    unknown = set()
    thumb = {}
    for elf in elfs:
        name = os.path.basename(elf)
        syms = subprocess.run([OBJDUMP, "-t", elf], check=True, capture_output=True,
                              text=True).stdout
        thumb[name] = sum(1 for line in syms.splitlines() if re.search(r"\s\$t(\.|$)", line))
        dis = subprocess.run([OBJDUMP, "-d", elf], check=True, capture_output=True,
                             text=True).stdout
        for line in dis.splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or not re.match(r"^\s*[0-9a-f]+:$", parts[0]):
                continue
            m = parts[2].split()[0] if parts[2].split() else ""
            if not m or m.startswith("."):
                continue                       # .word etc: literal pools
            raw[m] += 1
            b, c = base_of(m)
            if trans is not None and int(parts[0].strip(" :"), 16) in trans[name]:
                exe_base[b] += 1
                exe_where[b].add(name)
            if c == "?":
                unknown.add(m)
            per_base[b] += 1
            where[b].add(name)
    names = [os.path.basename(e) for e in elfs]
    out = []
    out.append("# A32 mnemonics in the workload ELFs (generated by mnemonics.py; "
               "`make mnemonics`)")
    out.append("# Static: every instruction objdump -d disassembles, including "
               "library code that may never run.")
    out.append("# ELFs: " + " ".join(names))
    out.append("# Thumb mapping symbols ($t): " + ", ".join(
        "%s=%d" % (n, thumb[n]) for n in names))
    out.append("")
    out.append("## Base mnemonics (condition code stripped): %d" % len(per_base))
    out.append("# mnemonic  static-count  alias-of  used-in")
    for b, n in sorted(per_base.items(), key=lambda kv: (-kv[1], kv[0])):
        used = "all" if len(where[b]) == len(names) else ",".join(
            sorted(x.replace(".elf", "") for x in where[b]))
        out.append("%-8s %6d  %-30s %s" % (b, n, ALIASES.get(b, "-"), used))
    out.append("")
    fs = [n for n in names if n != "hello_newlib.elf"]
    fs_set = sorted(b for b in per_base if any(x in fs for x in where[b]))
    out.append("## Needed by the freestanding programs alone (not hello_newlib): %d"
               % len(fs_set))
    out.append(" ".join(fs_set))
    out.append("")
    if trans is not None:
        out.append("## Reached when running cases.txt under QEMU (translated by QEMU): %d"
                   % len(exe_base))
        out.append("# mnemonic  static-count-within-reached-code  used-in")
        for b, n in sorted(exe_base.items(), key=lambda kv: (-kv[1], kv[0])):
            used = "all" if len(exe_where[b]) == len(names) else ",".join(
                sorted(x.replace(".elf", "") for x in exe_where[b]))
            out.append("%-8s %6d  %s" % (b, n, used))
        out.append("")
    out.append("## Raw forms as objdump prints them (with condition suffix): %d" % len(raw))
    out.append(" ".join(sorted(raw)))
    if unknown:
        out.append("")
        out.append("## Not classified (check by hand): " + " ".join(sorted(unknown)))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
