/* tcglab guest workloads: runtime (semihosting console, command line, exit,
 * PSCI, SMP start and barrier).  See rt.h. */
#include "rt.h"

int main(void);
void rt_secondary_entry(void);           /* start.S */

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
    /* SYS_EXIT_EXTENDED passes the status through (QEMU: becomes its exit
     * code).  Plain A32 SYS_EXIT only tells success (0) from failure (1). */
    volatile u32 block[2];
    block[0] = ADP_Stopped_ApplicationExit;
    block[1] = (u32)status;
    semihost(SYS_EXIT_EXTENDED, (void *)block);
    semihost(SYS_EXIT, (void *)(status == 0 ? ADP_Stopped_ApplicationExit
                                            : ADP_Stopped_RunTimeErrorUnknown));
    psci_system_off();
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

int rt_main(void)
{
    parse_cmdline();
    return main();
}

/* ---- PSCI ------------------------------------------------------------- */
int psci_cpu_on(u32 mpidr, void (*entry)(void), u32 context)
{
    return psci_call(PSCI_CPU_ON, mpidr, (u32)entry, context);
}

NORETURN void psci_cpu_off(void)
{
    psci_call(PSCI_CPU_OFF, 0, 0, 0);
    for (;;)
        __asm__ volatile("wfi");
}

NORETURN void psci_system_off(void)
{
    psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
    for (;;)
        __asm__ volatile("wfi");
}

/* ---- SMP -------------------------------------------------------------- */
/* Each shared variable on its own cache line; the group on its own page, away
 * from the workloads' data. */
static struct PAGE_ALONE {
    volatile u32 online ALIGNED(CACHELINE);   /* secondaries that have arrived */
    volatile u32 go ALIGNED(CACHELINE);       /* 1: run fn; 2: abort */
    volatile u32 done ALIGNED(CACHELINE);     /* secondaries that have finished */
    volatile u32 bar_count ALIGNED(CACHELINE);
    volatile u32 bar_sense ALIGNED(CACHELINE);
    volatile smp_fn fn ALIGNED(CACHELINE);
    volatile int ncpus;
    volatile u32 bad_context;                 /* a secondary whose r0 != its index */
} smp;

void rt_secondary_main(u32 context)
{
    int cpu = (int)cpu_id();
    if (context != (u32)cpu)                  /* CPU_ON's r3 must arrive in r0 */
        smp.bad_context = (u32)cpu;
    dmb();
    atomic_add(&smp.online, 1, NULL);
    while (smp.go == 0)
        cpu_relax();
    dmb();
    if (smp.go == 1)
        smp.fn(cpu, smp.ncpus);
    dmb();
    atomic_add(&smp.done, 1, NULL);
    psci_cpu_off();
}

int smp_run(int n, smp_fn fn)
{
    int i, started = 1;
    int want = n <= 0 ? MAX_CPUS : n;

    if (want > MAX_CPUS)
        return -1;
    smp.fn = fn;
    for (i = 1; i < want; i++) {
        if (psci_cpu_on((u32)i, rt_secondary_entry, (u32)i) != 0)
            break;
        started++;
    }
    while (smp.online != (u32)(started - 1))
        cpu_relax();
    dmb();
    if (smp.bad_context) {
        rt_puts("rt: PSCI CPU_ON context did not arrive in r0 of CPU ");
        rt_putu(smp.bad_context);
        rt_nl();
        rt_exit(3);
    }
    if (n > 0 && started != n) {
        dmb();
        smp.go = 2;                      /* release them to power off */
        while (smp.done != (u32)(started - 1))
            cpu_relax();
        return -1;
    }
    smp.ncpus = started;
    dmb();
    smp.go = 1;
    fn(0, started);
    while (smp.done != (u32)(started - 1))
        cpu_relax();
    dmb();
    return started;
}

void smp_barrier(void)
{
    u32 sense = smp.bar_sense;
    dmb();
    if (atomic_add(&smp.bar_count, 1, NULL) == (u32)smp.ncpus) {
        smp.bar_count = 0;
        dmb();
        smp.bar_sense = !sense;
    } else {
        while (smp.bar_sense == sense)
            cpu_relax();
    }
    dmb();
}
