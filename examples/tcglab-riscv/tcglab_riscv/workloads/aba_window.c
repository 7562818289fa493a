/* aba_window: a deterministic ABA probe of the LR/SC reservation.
 * Hart 0 does LR.W on a word holding A, then lets hart 1 run and waits;
 * hart 1 stores B and then A to that word and signals back; hart 0 then does
 * SC.W.  The RISC-V ISA (A extension, LR/SC) requires the SC to fail: another
 * hart stored to the reservation set in between.  An emulator that compares
 * values (cmpxchg, as QEMU does) lets it succeed.
 * Between its LR and SC, hart 0 only stores to a flag on another page, and
 * waits with plain loads.
 *
 *   aba_window [ncpus] [rounds]
 *     ncpus   harts the board has (default 2); with fewer than 2 it says
 *             "skipped" and exits 0
 *     rounds  default 1
 * Prints "aba_window: sc=failed" (exit 0) or "aba_window: sc=succeeded"
 * (exit 1; with rounds > 1, if any round's SC succeeded). */
#include "rt.h"

#define A 0x0000aaaau
#define B 0x0000bbbbu

/* each on a page of its own */
static struct PAGE_ALONE { volatile u32 v; } word;    /* the reserved word */
static struct PAGE_ALONE { volatile u32 v; } to_cpu1; /* round hart 1 may run */
static struct PAGE_ALONE { volatile u32 v; } to_cpu0; /* round hart 1 finished */
static u32 succeeded, rounds;

static void cpu0(void)
{
    u32 r;
    for (r = 1; r <= rounds; r++) {
        u32 v, st;
        word.v = A;
        fence();
        v = lr_w(&word.v);
        /* signal hart 1 (store to another page), wait with loads only */
        fence();
        to_cpu1.v = r;
        while (to_cpu0.v != r)
            cpu_relax();
        fence();
        st = sc_w(&word.v, v + 1);
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
        fence();
        word.v = B;
        fence();
        word.v = A;
        fence();
        to_cpu0.v = r;
    }
}

static void work(int cpu, int ncpus)
{
    if (ncpus < 2)
        return;
    if (cpu == 0)
        cpu0();
    else if (cpu == 1)
        cpu1();
}

int main(void)
{
    int ncpus = rt_arg(0, 2);
    rounds = (u32)rt_arg(1, 1);
    if ((int)rounds < 1) {
        rt_puts("aba_window: bad arguments\n");
        return 2;
    }
    if (ncpus < 2) {
        smp_run(1, work);   /* parks any other hart */
        rt_puts("aba_window: skipped (needs 2 harts)\n");
        return 0;
    }
    if (smp_run(2, work) < 0) {
        rt_puts("aba_window: cannot start the requested harts\n");
        return 2;
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
