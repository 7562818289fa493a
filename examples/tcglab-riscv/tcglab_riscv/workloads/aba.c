/* aba: a Treiber stack (lock-free LIFO) of preallocated nodes.
 *   pop:  lr.w a,(top); lw n,4(a); sc.w st,n,(top)
 *   push: lr.w o,(top); sw o,4(node); sc.w st,node,(top)
 * Every hart repeatedly pops two nodes and pushes them back (pop A, pop B,
 * push A, push B: the sequence that turns a value-comparing SC into the ABA
 * bug).  Afterwards hart 0 walks the stack and checks that every node is
 * present exactly once and that there is no cycle.  With real LR/SC the stack
 * stays intact; an SC emulated as cmpxchg(top, A, B) can corrupt it.
 *
 *   aba [ncpus] [iters] [nodes]     defaults: 1, 1000, 32 */
#include "rt.h"

#define MAX_NODES 1024

struct node {
    u32 id;                 /* 0(node) */
    struct node *next;      /* 4(node) */
};

static struct PAGE_ALONE { struct node *volatile p; } top;  /* own page */
static struct node nodes[MAX_NODES] ALIGNED(4096);
static u8 seen[MAX_NODES];

static struct {
    u32 pops ALIGNED(CACHELINE);
    u32 empty;              /* pops that found the stack empty */
    u32 fails;              /* SC failures */
} percpu[MAX_CPUS];

static int iters, nnodes;

static struct node *pop(u32 *fails)
{
    struct node *n, *next;
    u32 st;
    for (;;) {
        __asm__ volatile(
            "lr.w   %0, (%3)\n\t"
            "li     %2, 0\n\t"
            "beqz   %0, 1f\n\t"
            "lw     %1, 4(%0)\n\t"
            "sc.w   %2, %1, (%3)\n"
            "1:"
            : "=&r"(n), "=&r"(next), "=&r"(st)
            : "r"(&top.p)
            : "memory");
        if (st == 0)
            break;
        (*fails)++;
    }
    fence();
    return n;
}

static void push(struct node *n, u32 *fails)
{
    struct node *old;
    u32 st;
    fence();
    for (;;) {
        __asm__ volatile(
            "lr.w   %0, (%2)\n\t"
            "sw     %0, 4(%3)\n\t"
            "sc.w   %1, %3, (%2)"
            : "=&r"(old), "=&r"(st)
            : "r"(&top.p), "r"(n)
            : "memory");
        if (st == 0)
            break;
        (*fails)++;
    }
}

static void work(int cpu, int ncpus)
{
    int i;
    u32 fails = 0, empty = 0, pops = 0;
    (void)ncpus;
    smp_barrier();
    for (i = 0; i < iters; i++) {
        struct node *a = pop(&fails);
        struct node *b = pop(&fails);
        pops += (a != NULL) + (b != NULL);
        empty += (a == NULL) + (b == NULL);
        if (a)
            push(a, &fails);
        if (b)
            push(b, &fails);
    }
    percpu[cpu].pops = pops;
    percpu[cpu].empty = empty;
    percpu[cpu].fails = fails;
    fence();
}

int main(void)
{
    int ncpus = rt_arg(0, 1), i, count = 0, dup = 0, bad = 0, intact;
    struct node *n;

    iters = rt_arg(1, 1000);
    nnodes = rt_arg(2, 32);
    if (iters < 0 || nnodes < 1 || nnodes > MAX_NODES) {
        rt_puts("aba: bad arguments\n");
        return 2;
    }
    /* build the stack: node 0 on top */
    for (i = nnodes - 1; i >= 0; i--) {
        nodes[i].id = (u32)i;
        nodes[i].next = top.p;
        top.p = &nodes[i];
    }
    ncpus = smp_run(ncpus, work);
    if (ncpus < 0) {
        rt_puts("aba: cannot start the requested harts\n");
        return 2;
    }
    /* walk: stop at the first revisited or foreign node (so a cycle ends it) */
    for (n = top.p; n != NULL; n = n->next) {
        u32 idx = (u32)(n - nodes);
        if (n < nodes || idx >= (u32)nnodes || ((u32)n - (u32)nodes) % sizeof *n) {
            bad++;
            break;
        }
        if (seen[idx]) {
            dup++;
            break;
        }
        seen[idx] = 1;
        count++;
    }
    intact = count == nnodes && dup == 0 && bad == 0;
    rt_puts("aba: cpus=");
    rt_putd(ncpus);
    rt_puts(" iters=");
    rt_putd(iters);
    rt_puts(" nodes=");
    rt_putd(nnodes);
    if (intact) {
        rt_puts(" stack=intact\n");
    } else {
        rt_puts(" stack=CORRUPTED found=");
        rt_putd(count);
        rt_puts(dup ? " cycle/duplicate" : "");
        rt_puts(bad ? " foreign-pointer" : "");
        rt_nl();
    }
    rt_puts("# pops/empty/sc-failures:");
    for (i = 0; i < ncpus; i++) {
        rt_puts(" cpu");
        rt_putd(i);
        rt_putc('=');
        rt_putu(percpu[i].pops);
        rt_putc('/');
        rt_putu(percpu[i].empty);
        rt_putc('/');
        rt_putu(percpu[i].fails);
    }
    rt_nl();
    return intact ? 0 : 1;
}
