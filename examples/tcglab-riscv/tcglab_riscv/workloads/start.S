/* tcglab-riscv workloads: entry code (RV32IMA, machine mode).
 *
 * Every hart enters at _start with a0 = its hart id (QEMU's riscv virt board
 * with -bios none; tcglab's riscv32 board does the same).  Each hart takes its
 * stack from rt_stacks by hart id; hart 0 zeroes .bss and runs rt_main, the
 * others wait in rt_secondary_main until smp_run gives them work.  Harts
 * beyond MAX_CPUS park in a wfi loop. */

#define STACK_SHIFT 14          /* 16 KiB per hart */
#define MAX_CPUS    8

    .option norelax
    .section .text.start, "ax", @progbits
    .global _start
    .type _start, @function
_start:
    li      t0, MAX_CPUS
    bgeu    a0, t0, park
    la      sp, rt_stacks
    addi    t1, a0, 1
    slli    t1, t1, STACK_SHIFT
    add     sp, sp, t1
    bnez    a0, secondary

    la      t0, __bss_start     /* zero .bss (the stacks are in .stack) */
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  call    rt_main             /* parses the command line, calls main */
    call    rt_exit             /* rt_exit(main's return value): never returns */
park:
    wfi
    j       park
secondary:
    call    rt_secondary_main   /* a0 = hart id; does not return */
    j       park
    .size _start, . - _start

/* int semihost(int op, void *arg): the RISC-V semihosting sequence.  The three
 * instructions must be uncompressed and on one page: the .balign keeps them so. */
    .text
    .global semihost
    .type semihost, @function
    .balign 16
semihost:
    .option push
    .option norvc
    slli    zero, zero, 0x1f
    ebreak
    srai    zero, zero, 7
    .option pop
    ret
    .size semihost, . - semihost

    .section .stack, "aw", @nobits
    .balign 4096
    .global rt_stacks
rt_stacks:
    .space  ((MAX_CPUS + 1) << STACK_SHIFT)
