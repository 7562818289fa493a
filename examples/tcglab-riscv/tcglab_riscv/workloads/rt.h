/* tcglab-riscv workloads: a tiny freestanding runtime for QEMU's riscv `virt`
 * board (RV32IMA, machine mode, no MMU, no interrupts).  See ../../README.md. */
#ifndef TCGLAB_RT_H
#define TCGLAB_RT_H

typedef unsigned int       u32;
typedef int                s32;
typedef unsigned short     u16;
typedef unsigned char      u8;
typedef unsigned long long u64;
typedef long long          s64;

#define MAX_CPUS 8
#define CACHELINE 64
#define NULL ((void *)0)
#define ALIGNED(n) __attribute__((aligned(n)))
/* on a struct type: the object fills whole 4 KiB pages that hold nothing else */
#define PAGE_ALONE __attribute__((aligned(4096)))
#define NORETURN __attribute__((noreturn))

/* ---- semihosting (slli x0,x0,0x1f; ebreak; srai x0,x0,7) ----------------- */
#define SYS_WRITEC        0x03
#define SYS_WRITE0        0x04
#define SYS_GET_CMDLINE   0x15
#define SYS_EXIT          0x18
#define SYS_EXIT_EXTENDED 0x20
#define ADP_Stopped_ApplicationExit     0x20026
#define ADP_Stopped_RunTimeErrorUnknown 0x20023

int semihost(int op, void *arg);             /* start.S */

void rt_putc(char c);
void rt_puts(const char *s);                 /* no newline added */
void rt_putu(u32 v);                         /* decimal */
void rt_putd(s32 v);
void rt_putx(u32 v);                         /* 0x%08x */
void rt_putu64(u64 v);
void rt_putx64(u64 v);                       /* 0x%016llx */
void rt_nl(void);
NORETURN void rt_exit(int status);

/* Command line: the numeric arguments after the program name (a first word
 * that does not start with a digit is taken as the name).  rt_arg(i, dflt)
 * returns the i-th argument (0-based) or dflt when absent. */
extern int rt_nargs;
extern const char *rt_cmdline;
int rt_arg(int i, int dflt);

static inline u32 cpu_id(void)
{
    u32 id;
    __asm__ volatile("csrr %0, mhartid" : "=r"(id));
    return id;
}

/* ---- barriers, LR/SC and AMOs ------------------------------------------- */
static inline void fence(void) { __asm__ volatile("fence rw, rw" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("" ::: "memory"); }

static inline u32 lr_w(volatile u32 *p)
{
    u32 v;
    __asm__ volatile("lr.w %0, (%1)" : "=r"(v) : "r"(p) : "memory");
    return v;
}
/* returns 0 on success, nonzero on failure (the SC.W result) */
static inline u32 sc_w(volatile u32 *p, u32 v)
{
    u32 r;
    __asm__ volatile("sc.w %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory");
    return r;
}
static inline u32 amoadd_w(volatile u32 *p, u32 v)
{
    u32 old;
    __asm__ volatile("amoadd.w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
    return old;
}
static inline u32 amoor_w(volatile u32 *p, u32 v)
{
    u32 old;
    __asm__ volatile("amoor.w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
    return old;
}

/* atomic add with an LR/SC loop; returns the new value.
 * *fails (if not NULL) is incremented once per failed SC. */
static inline u32 atomic_add(volatile u32 *p, u32 v, u32 *fails)
{
    u32 old;
    for (;;) {
        old = lr_w(p);
        if (sc_w(p, old + v) == 0)
            break;
        if (fails)
            (*fails)++;
    }
    return old + v;
}

/* ---- SMP --------------------------------------------------------------- */
/* Run fn(cpu, ncpus) on harts 0..n-1 (hart 0 is the caller) and return when
 * all have returned; the other harts park in wfi afterwards.  Every hart
 * starts at the entry, so smp_run waits (a bounded time) for harts 1..n-1 to
 * report; n <= 0 means 1.  Returns n, or -1 if some of the harts did not
 * report (then fn is not run).  Call at most once per program.
 * The bookkeeping uses AMOs (amoor/amoadd), so it works under every memory
 * policy, including the ones whose LR/SC is broken on purpose. */
typedef void (*smp_fn)(int cpu, int ncpus);
int smp_run(int n, smp_fn fn);
/* barrier among the harts of smp_run (sense-reversing, amoadd) */
void smp_barrier(void);

#define READ_ONCE(x)     (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

#endif
