/* tcglab guest workloads: entry code (A32, ARM state).
 *
 * CPU 0 enters at _start (the ELF entry).  Secondaries are powered off until
 * CPU 0 starts them with PSCI CPU_ON (see rt.c); they enter at
 * rt_secondary_entry with the CPU_ON context in r0.
 * Every CPU takes its stack from rt_stacks by its MPIDR Aff0 index.
 * The MMU and caches are left as they are (off). */

#define STACK_SHIFT 14          /* 16 KiB per CPU */
#define MAX_CPUS    8

    .file "start.S"
    .syntax unified
    .arm
    .arch armv7-a
    .arch_extension virt        /* for hvc */

    .section .text.start, "ax", %progbits
    .global _start
    .type _start, %function
_start:
    cpsid   if                  /* no interrupts are used */
    mrc     p15, 0, r4, c0, c0, 5   /* MPIDR */
    and     r4, r4, #0xff       /* Aff0 = CPU index */
    cmp     r4, #0
    bne     park                /* only CPU 0 should arrive here */

    ldr     r1, =rt_stacks
    add     sp, r1, #(1 << STACK_SHIFT)

    /* zero .bss (the stacks are in .stack, not in .bss) */
    ldr     r1, =__bss_start
    ldr     r2, =__bss_end
    mov     r3, #0
1:  cmp     r1, r2
    strlo   r3, [r1], #4
    blo     1b

    bl      rt_main             /* parses the command line, calls main */
    bl      rt_exit             /* rt_exit(main's return value), never returns */
park:
    wfi
    b       park
    .size _start, . - _start

    .global rt_secondary_entry
    .type rt_secondary_entry, %function
rt_secondary_entry:
    cpsid   if
    mrc     p15, 0, r4, c0, c0, 5
    and     r4, r4, #0xff
    cmp     r4, #MAX_CPUS
    bhs     park
    ldr     r1, =rt_stacks
    add     r4, r4, #1
    add     sp, r1, r4, lsl #STACK_SHIFT
    bl      rt_secondary_main   /* r0 = CPU_ON context; does not return */
    b       park
    .size rt_secondary_entry, . - rt_secondary_entry

/* int psci_call(unsigned fn, unsigned a1, unsigned a2, unsigned a3) */
    .text
    .global psci_call
    .type psci_call, %function
psci_call:
    hvc     #0
    bx      lr
    .size psci_call, . - psci_call

/* int semihost(int op, void *arg) */
    .global semihost
    .type semihost, %function
semihost:
    push    {r4, lr}            /* svc in SVC mode would clobber lr_svc on hardware */
    svc     0x123456
    pop     {r4, pc}
    .size semihost, . - semihost

    .section .stack, "aw", %nobits
    .balign 4096
    .global rt_stacks
rt_stacks:
    .space  (MAX_CPUS << STACK_SHIFT)
