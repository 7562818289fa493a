/* tcglab-riscv workloads: runtime (semihosting console, command line, exit,
 * SMP start-up).  See rt.h. */
#include "rt.h"

int main(void);

/* ---- console ---------------------------------------------------------- */
void rt_putc(char c)
{
    semihost(SYS_WRITEC, &c);
}

void rt_puts(const char *s)
{
    semihost(SYS_WRITE0, (void *)s);
}

void rt_nl(void) { rt_putc('\n'); }

void rt_putu64(u64 v)
{
    char buf[24];
    int i = sizeof buf - 1;
    buf[i] = 0;
    do {
        buf[--i] = '0' + (char)(v % 10);
        v /= 10;
    } while (v);
    rt_puts(&buf[i]);
}

void rt_putu(u32 v)
{
    char buf[12];
    int i = sizeof buf - 1;
    buf[i] = 0;
    do {
        buf[--i] = '0' + (char)(v % 10);
        v /= 10;
    } while (v);
    rt_puts(&buf[i]);
}

void rt_putd(s32 v)
{
    if (v < 0) {
        rt_putc('-');
        rt_putu(0u - (u32)v);
    } else {
        rt_putu((u32)v);
    }
}

static void puthex(u64 v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    char buf[20];
    int i;
    buf[0] = '0';
    buf[1] = 'x';
    for (i = 0; i < digits; i++)
        buf[2 + i] = hex[(v >> (4 * (digits - 1 - i))) & 0xf];
    buf[2 + digits] = 0;
    rt_puts(buf);
}

void rt_putx(u32 v) { puthex(v, 8); }
void rt_putx64(u64 v) { puthex(v, 16); }

/* ---- exit ------------------------------------------------------------- */
NORETURN void rt_exit(int status)
{
    /* SYS_EXIT_EXTENDED passes the status through (QEMU: its exit code);
     * plain 32-bit SYS_EXIT only tells success (0) from failure (1). */
    volatile u32 block[2];
    block[0] = ADP_Stopped_ApplicationExit;
    block[1] = (u32)status;
    semihost(SYS_EXIT_EXTENDED, (void *)block);
    semihost(SYS_EXIT, (void *)(status == 0 ? ADP_Stopped_ApplicationExit
                                            : ADP_Stopped_RunTimeErrorUnknown));
    for (;;)
        __asm__ volatile("wfi");
}

/* ---- command line ----------------------------------------------------- */
static char cmdline_buf[256];
const char *rt_cmdline = "";
int rt_nargs;
static int args[16];
static int arg_present[16];

static void parse_cmdline(void)
{
    volatile u32 block[2];
    const char *p;
    int first = 1;

    block[0] = (u32)cmdline_buf;
    block[1] = sizeof cmdline_buf - 1;
    if (semihost(SYS_GET_CMDLINE, (void *)block) != 0)
        return;
    cmdline_buf[sizeof cmdline_buf - 1] = 0;
    rt_cmdline = cmdline_buf;

    p = cmdline_buf;
    for (;;) {
        int neg = 0, val = 0, isnum;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        isnum = (*p >= '0' && *p <= '9') || (*p == '-' && p[1] >= '0' && p[1] <= '9');
        if (first && !isnum) {          /* the program name */
            while (*p && *p != ' ' && *p != '\t')
                p++;
            first = 0;
            continue;
        }
        first = 0;
        if (*p == '-') {
            neg = 1;
            p++;
        }
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
            p += 2;
            for (;; p++) {
                int d;
                if (*p >= '0' && *p <= '9') d = *p - '0';
                else if (*p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
                else if (*p >= 'A' && *p <= 'F') d = *p - 'A' + 10;
                else break;
                val = val * 16 + d;
            }
        } else {
            while (*p >= '0' && *p <= '9')
                val = val * 10 + (*p++ - '0');
        }
        /* a word that is not a number counts as "absent" (use the default) */
        isnum = (*p == 0 || *p == ' ' || *p == '\t');
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (rt_nargs < 16) {
            args[rt_nargs] = neg ? -val : val;
            arg_present[rt_nargs] = isnum;
            rt_nargs++;
        }
    }
}

int rt_arg(int i, int dflt)
{
    if (i < 0 || i >= rt_nargs || !arg_present[i])
        return dflt;
    return args[i];
}

/* ---- SMP -------------------------------------------------------------- */
/* Released by hart 0 once .bss is zeroed: in .data, so that it is never
 * zeroed under the secondaries' feet. */
static volatile u32 rt_released __attribute__((section(".data"))) = 0;

/* Each shared variable on its own cache line; the group on its own page. */
static struct PAGE_ALONE {
    volatile u32 online ALIGNED(CACHELINE);   /* bit i: hart i has reported */
    volatile u32 go ALIGNED(CACHELINE);       /* 1: run fn */
    volatile u32 done ALIGNED(CACHELINE);     /* secondaries that have finished */
    volatile u32 bar_count ALIGNED(CACHELINE);
    volatile u32 bar_sense ALIGNED(CACHELINE);
    volatile smp_fn fn ALIGNED(CACHELINE);
    volatile int ncpus;
    volatile u32 bad_hartid;                  /* a hart whose a0 != mhartid, plus 1 */
} smp;

int rt_main(void)
{
    parse_cmdline();
    fence();
    rt_released = 1;
    return main();
}

NORETURN void rt_secondary_main(u32 hart)
{
    while (rt_released == 0)
        cpu_relax();
    fence();
    if (hart != cpu_id())                     /* a0 at the entry must be mhartid */
        smp.bad_hartid = hart + 1;
    amoor_w(&smp.online, 1u << hart);
    while (smp.go == 0)
        cpu_relax();
    fence();
    if ((int)hart < smp.ncpus) {
        smp.fn((int)hart, smp.ncpus);
        fence();
        amoadd_w(&smp.done, 1);
    }
    for (;;)
        __asm__ volatile("wfi");
}

/* polls before giving up on a hart that never reports: generous, since QEMU
 * may not schedule a hart's thread for a while; only reached when the
 * arguments ask for more harts than the board has. */
#define SMP_WAIT 20000000

int smp_run(int n, smp_fn fn)
{
    u32 want, spins = SMP_WAIT;

    if (n <= 0)
        n = 1;
    if (n > MAX_CPUS)
        return -1;
    want = ((1u << n) - 1) & ~1u;
    while ((smp.online & want) != want && --spins)
        cpu_relax();
    fence();
    if (smp.bad_hartid) {
        rt_puts("rt: a0 at the entry was not mhartid on hart ");
        rt_putu(smp.bad_hartid - 1);
        rt_nl();
        rt_exit(3);
    }
    if ((smp.online & want) != want)
        return -1;
    smp.fn = fn;
    smp.ncpus = n;
    fence();
    smp.go = 1;
    fn(0, n);
    while (smp.done != (u32)(n - 1))
        cpu_relax();
    fence();
    return n;
}

void smp_barrier(void)
{
    u32 sense = smp.bar_sense;
    fence();
    if (amoadd_w(&smp.bar_count, 1) + 1 == (u32)smp.ncpus) {
        smp.bar_count = 0;
        fence();
        smp.bar_sense = !sense;
    } else {
        while (smp.bar_sense == sense)
            cpu_relax();
    }
    fence();
}
