/* counter: every hart adds 1 to a shared counter `iters` times.  Pass iff the
 * total is exactly ncpus * iters.
 *
 *   counter [ncpus] [iters] [mode]
 *     ncpus  harts to use (default 1)
 *     iters  increments per hart (default 1000)
 *     mode   0 (default): an LR.W/SC.W loop; 1: one AMOADD.W per increment
 *            (atomic under every memory policy, even the broken "none") */
#include "rt.h"

static struct {
    volatile u32 c ALIGNED(CACHELINE);
} shared ALIGNED(4096);

static int iters, mode;

static void work(int cpu, int ncpus)
{
    int i;
    (void)cpu;
    (void)ncpus;
    smp_barrier();
    if (mode == 1) {
        for (i = 0; i < iters; i++)
            amoadd_w(&shared.c, 1);
    } else {
        for (i = 0; i < iters; i++)
            atomic_add(&shared.c, 1, NULL);
    }
    fence();
}

int main(void)
{
    int ncpus = rt_arg(0, 1);
    u32 total, expect;

    iters = rt_arg(1, 1000);
    mode = rt_arg(2, 0);
    if (iters < 0 || (mode != 0 && mode != 1)) {
        rt_puts("counter: bad arguments\n");
        return 2;
    }
    ncpus = smp_run(ncpus, work);
    if (ncpus < 0) {
        rt_puts("counter: cannot start the requested harts\n");
        return 2;
    }
    expect = (u32)ncpus * (u32)iters;
    total = shared.c;
    rt_puts("counter: cpus=");
    rt_putd(ncpus);
    rt_puts(" iters=");
    rt_putd(iters);
    if (mode)
        rt_puts(" mode=amo");
    rt_puts(" total=");
    rt_putu(total);
    if (total == expect) {
        rt_puts(" OK\n");
        return 0;
    }
    rt_puts(" FAIL expected=");
    rt_putu(expect);
    rt_nl();
    return 1;
}
