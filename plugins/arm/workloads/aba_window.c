/* aba_window: a deterministic ABA probe of the exclusive monitor.
 * CPU 0 does LDREX on a word holding A, then lets CPU 1 run and waits;
 * CPU 1 stores B and then A to that word and signals back; CPU 0 then does
 * STREX.  Architecturally the other CPU's stores clear CPU 0's (global)
 * monitor, so the STREX must fail.  An emulator that compares values
 * (cmpxchg, as QEMU does) lets it succeed.
 * Between its LDREX and STREX, CPU 0 only stores to a flag on another page,
 * and waits with plain loads.
 *
 *   aba_window [rounds]     default 1; needs 2 CPUs (on 1 CPU it says
 *                           "skipped" and exits 0)
 * Prints "aba_window: sc=failed" (exit 0) or "aba_window: sc=succeeded"
 * (exit 1; with rounds > 1, if any round's SC succeeded). */
#include "rt.h"

#define A 0x0000aaaau
#define B 0x0000bbbbu

/* each on a page of its own */
static struct PAGE_ALONE { volatile u32 v; } word;    /* the reserved word */
static struct PAGE_ALONE { volatile u32 v; } to_cpu1; /* round CPU 1 may run */
static struct PAGE_ALONE { volatile u32 v; } to_cpu0; /* round CPU 1 finished */
static u32 succeeded, rounds;

static void cpu0(void)
{
    u32 r;
    for (r = 1; r <= rounds; r++) {
        u32 v, st;
        word.v = A;
        dmb();
        v = ldrex(&word.v);
        /* signal CPU 1 (store to another page), wait with loads only */
        dmb();
        to_cpu1.v = r;
        while (to_cpu0.v != r)
            cpu_relax();
        dmb();
        st = strex(&word.v, v + 1);
        if (st == 0)
            succeeded++;
    }
}

static void cpu1(void)
{
    u32 r;
    for (r = 1; r <= rounds; r++) {
        while (to_cpu1.v != r)
            cpu_relax();
        dmb();
        word.v = B;
        dmb();
        word.v = A;
        dmb();
        to_cpu0.v = r;
    }
}

static void work(int cpu, int ncpus)
{
    (void)ncpus;
    if (cpu == 0)
        cpu0();
    else if (cpu == 1)
        cpu1();
}

int main(void)
{
    int n;
    rounds = (u32)rt_arg(0, 1);
    if ((int)rounds < 1) {
        rt_puts("aba_window: bad arguments\n");
        return 2;
    }
    n = smp_run(2, work);
    if (n < 0) {
        rt_puts("aba_window: skipped (needs 2 CPUs)\n");
        return 0;
    }
    rt_puts("aba_window: sc=");
    rt_puts(succeeded ? "succeeded" : "failed");
    if (rounds > 1) {
        rt_puts(" rounds=");
        rt_putu(rounds);
        rt_puts(" succeeded=");
        rt_putu(succeeded);
    }
    rt_nl();
    return succeeded ? 1 : 0;
}
