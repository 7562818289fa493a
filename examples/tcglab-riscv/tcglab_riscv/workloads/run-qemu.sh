#!/bin/sh
# Run one workload under qemu-system-riscv32 and print its output followed by
# "exit=<status>".
#   ./run-qemu.sh SMP PROGRAM.elf [args...]
# -bios none: no firmware, every hart starts at the ELF entry with a0 = hart
# id.  The arguments reach the guest through -append: QEMU's SYS_GET_CMDLINE
# then returns "<kernel file name> <args>".
set -u
QEMU=${QEMU:-qemu-system-riscv32}
TIMEOUT=${TIMEOUT:-60}
smp=$1; elf=$2; shift 2
if [ $# -gt 0 ]; then
    timeout "$TIMEOUT" "$QEMU" -M virt -bios none -smp "$smp" -nographic -nic none \
        -semihosting -kernel "$elf" -append "$*" </dev/null 2>&1
else
    timeout "$TIMEOUT" "$QEMU" -M virt -bios none -smp "$smp" -nographic -nic none \
        -semihosting -kernel "$elf" </dev/null 2>&1
fi
echo "exit=$?"
