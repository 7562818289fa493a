/* counter: every CPU adds 1 to a shared counter `iters` times with an
 * LDREX/STREX loop.  Pass iff the total is exactly ncpus * iters.
 *
 *   counter [ncpus] [iters] [width]
 *     ncpus  CPUs to use (default: all the board has)
 *     iters  increments per CPU (default 1000)
 *     width  8, 16, 32 (default) or 64: LDREXB/H, LDREX or LDREXD;
 *            8 and 16 compare modulo 2^width, 64 starts below 2^32 so that
 *            the carry into the high word is exercised. */
#include "rt.h"

#define START64 0xffffff00ull

static struct {
    volatile u32 c32 ALIGNED(CACHELINE);
    volatile u16 c16 ALIGNED(CACHELINE);
    volatile u8 c8 ALIGNED(CACHELINE);
    volatile u64 c64 ALIGNED(CACHELINE);
} shared ALIGNED(4096);

static int iters, width;

static void work(int cpu, int ncpus)
{
    int i;
    (void)cpu;
    (void)ncpus;
    smp_barrier();
    switch (width) {
    case 8:
        for (i = 0; i < iters; i++) {
            u32 v;
            do {
                v = ldrexb(&shared.c8);
            } while (strexb(&shared.c8, v + 1));
        }
        break;
    case 16:
        for (i = 0; i < iters; i++) {
            u32 v;
            do {
                v = ldrexh(&shared.c16);
            } while (strexh(&shared.c16, v + 1));
        }
        break;
    case 64:
        for (i = 0; i < iters; i++) {
            u64 v;
            do {
                v = ldrexd(&shared.c64);
            } while (strexd(&shared.c64, v + 1));
        }
        break;
    default:
        for (i = 0; i < iters; i++)
            atomic_add(&shared.c32, 1, NULL);
        break;
    }
    dmb();
}

int main(void)
{
    int ncpus = rt_arg(0, 0);
    u64 total, expect;

    iters = rt_arg(1, 1000);
    width = rt_arg(2, 32);
    if (iters < 0 || (width != 8 && width != 16 && width != 32 && width != 64)) {
        rt_puts("counter: bad arguments\n");
        return 2;
    }
    shared.c64 = START64;
    ncpus = smp_run(ncpus, work);
    if (ncpus < 0) {
        rt_puts("counter: cannot start the requested CPUs\n");
        return 2;
    }
    expect = (u64)ncpus * (u64)iters;
    switch (width) {
    case 8:  total = shared.c8;  expect &= 0xff;   break;
    case 16: total = shared.c16; expect &= 0xffff; break;
    case 64: total = shared.c64 - START64;          break;
    default: total = shared.c32; expect &= 0xffffffffu; break;
    }
    rt_puts("counter: cpus=");
    rt_putd(ncpus);
    rt_puts(" iters=");
    rt_putd(iters);
    if (width != 32) {
        rt_puts(" width=");
        rt_putd(width);
    }
    rt_puts(" total=");
    rt_putu64(total);
    if (total == expect) {
        rt_puts(" OK\n");
        return 0;
    }
    rt_puts(" FAIL expected=");
    rt_putu64(expect);
    rt_nl();
    return 1;
}
