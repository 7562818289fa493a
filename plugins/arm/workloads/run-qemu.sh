#!/bin/sh
# Run one workload under qemu-system-arm and print its output followed by
# "exit=<status>".
#   ./run-qemu.sh SMP PROGRAM.elf [args...]
# The arguments reach the guest through -append: QEMU's SYS_GET_CMDLINE then
# returns "<kernel file name> <args>".
# QEMU writes the semihosting console (SYS_WRITEC, SYS_WRITE0) to its stderr and
# SYS_WRITE to a ":tt" handle (newlib's stdout) to its stdout: both are merged.
set -u
QEMU=${QEMU:-qemu-system-arm}
TIMEOUT=${TIMEOUT:-60}
smp=$1; elf=$2; shift 2
if [ $# -gt 0 ]; then
    timeout "$TIMEOUT" "$QEMU" -M virt -cpu cortex-a15 -smp "$smp" -nographic -nic none \
        -semihosting -kernel "$elf" -append "$*" </dev/null 2>&1
else
    timeout "$TIMEOUT" "$QEMU" -M virt -cpu cortex-a15 -smp "$smp" -nographic -nic none \
        -semihosting -kernel "$elf" </dev/null 2>&1
fi
echo "exit=$?"
