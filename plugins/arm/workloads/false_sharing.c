/* false_sharing: every CPU increments its OWN word with LDREX/STREX, but all
 * the words are on one page (by default adjacent words, so they also share a
 * reservation granule / cache line).  Totals must be exact.  The number of
 * STREX failures each CPU saw is nondeterministic and printed on a '#' line.
 *
 *   false_sharing [ncpus] [iters] [stride]
 *     defaults: all CPUs, 1000, stride 1 (in words; 16 = 64 bytes apart) */
#include "rt.h"

static volatile u32 page[1024] ALIGNED(4096);    /* the shared page */
static struct {
    u32 fails ALIGNED(CACHELINE);
} percpu[MAX_CPUS];

static int iters, stride;

static void work(int cpu, int ncpus)
{
    volatile u32 *w = &page[cpu * stride];
    u32 fails = 0;
    int i;
    (void)ncpus;
    smp_barrier();
    for (i = 0; i < iters; i++)
        atomic_add(w, 1, &fails);
    percpu[cpu].fails = fails;
    dmb();
}

int main(void)
{
    int ncpus = rt_arg(0, 0), i, ok = 1;

    iters = rt_arg(1, 1000);
    stride = rt_arg(2, 1);
    if (iters < 0 || stride < 1 || stride * MAX_CPUS > 1024) {
        rt_puts("false_sharing: bad arguments\n");
        return 2;
    }
    ncpus = smp_run(ncpus, work);
    if (ncpus < 0) {
        rt_puts("false_sharing: cannot start the requested CPUs\n");
        return 2;
    }
    rt_puts("false_sharing: cpus=");
    rt_putd(ncpus);
    rt_puts(" iters=");
    rt_putd(iters);
    rt_puts(" stride=");
    rt_putd(stride * 4);
    rt_puts("B totals:");
    for (i = 0; i < 1024; i++) {
        u32 expect = (i % stride == 0 && i / stride < ncpus) ? (u32)iters : 0;
        if (page[i] != expect)
            ok = 0;
    }
    for (i = 0; i < ncpus; i++) {
        rt_puts(" cpu");
        rt_putd(i);
        rt_putc('=');
        rt_putu(page[i * stride]);
    }
    rt_puts(ok ? " OK\n" : " FAIL\n");
    rt_puts("# strex failures:");
    for (i = 0; i < ncpus; i++) {
        rt_puts(" cpu");
        rt_putd(i);
        rt_putc('=');
        rt_putu(percpu[i].fails);
    }
    rt_nl();
    return ok ? 0 : 1;
}
