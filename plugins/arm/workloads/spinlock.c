/* spinlock: an LDREX/STREX test-and-set lock (with DMB) protects NON-atomic
 * updates of a shared counter; each CPU also counts its own entries in a
 * per-CPU counter (as in kvm-unit-tests arm/locking-test.c).  Pass iff
 * sum(per-CPU counters) == shared counter == ncpus * iters.
 * Inside the critical section two shared words are also flipped together and
 * checked to be equal (as in tcg_baremetal_tests), so a broken lock is caught
 * even when the counts happen to agree.
 *
 *   spinlock [ncpus] [iters]      defaults: all CPUs, 1000 */
#include "rt.h"

static struct PAGE_ALONE { volatile u32 v; } lock;     /* its own page */

static struct {
    u32 counter ALIGNED(CACHELINE);              /* plain, protected by lock */
    u32 a, b;                                    /* flipped together */
    u32 torn;                                    /* times a != b was seen */
} shared ALIGNED(4096);

static struct {
    u32 count ALIGNED(CACHELINE);
    u32 lockfails;                               /* strex failures */
} percpu[MAX_CPUS];

static int iters;

static inline void spin_lock(volatile u32 *l, u32 *fails)
{
    for (;;) {
        while (*l != 0)
            cpu_relax();
        if (ldrex(l) == 0) {
            if (strex(l, 1) == 0)
                break;
            (*fails)++;
        } else {
            clrex();
        }
    }
    dmb();
}

static inline void spin_unlock(volatile u32 *l)
{
    dmb();
    *l = 0;
}

static void work(int cpu, int ncpus)
{
    int i;
    u32 fails = 0;
    (void)ncpus;
    smp_barrier();
    for (i = 0; i < iters; i++) {
        spin_lock(&lock.v, &fails);
        /* deliberately non-atomic read-modify-write sequences */
        u32 v = READ_ONCE(shared.counter);
        u32 a = READ_ONCE(shared.a);
        if (a != READ_ONCE(shared.b))
            shared.torn++;
        WRITE_ONCE(shared.a, a + 1);
        WRITE_ONCE(shared.counter, v + 1);
        WRITE_ONCE(shared.b, a + 1);
        percpu[cpu].count++;
        spin_unlock(&lock.v);
    }
    percpu[cpu].lockfails = fails;
    dmb();
}

int main(void)
{
    int ncpus = rt_arg(0, 0), i;
    u32 sum = 0;
    int ok;

    iters = rt_arg(1, 1000);
    if (iters < 0) {
        rt_puts("spinlock: bad arguments\n");
        return 2;
    }
    ncpus = smp_run(ncpus, work);
    if (ncpus < 0) {
        rt_puts("spinlock: cannot start the requested CPUs\n");
        return 2;
    }
    for (i = 0; i < ncpus; i++)
        sum += percpu[i].count;
    ok = sum == shared.counter && sum == (u32)ncpus * (u32)iters && shared.torn == 0
         && shared.a == sum && shared.b == sum;
    rt_puts("spinlock: cpus=");
    rt_putd(ncpus);
    rt_puts(" iters=");
    rt_putd(iters);
    rt_puts(" shared=");
    rt_putu(shared.counter);
    rt_puts(" sum=");
    rt_putu(sum);
    if (shared.torn) {
        rt_puts(" torn=");
        rt_putu(shared.torn);
    }
    rt_puts(ok ? " OK\n" : " FAIL\n");
    rt_puts("# lock strex failures:");
    for (i = 0; i < ncpus; i++) {
        rt_puts(" cpu");
        rt_putd(i);
        rt_putc('=');
        rt_putu(percpu[i].lockfails);
    }
    rt_nl();
    return ok ? 0 : 1;
}
