/* tcglab guest workloads: a tiny freestanding runtime for QEMU's `virt` board
 * (A32, ARM state, no MMU, no interrupts).  See README.md. */
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

/* ---- semihosting (svc 0x123456, ARM state) ------------------------------- */
#define SYS_WRITEC        0x03
#define SYS_WRITE0        0x04
#define SYS_GET_CMDLINE   0x15
#define SYS_EXIT          0x18
#define SYS_EXIT_EXTENDED 0x20
#define ADP_Stopped_ApplicationExit   0x20026
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

/* Command line: rt_argc/rt_argv hold the numeric arguments after the program
 * name (a first word that does not start with a digit is taken as the name).
 * rt_arg(i, dflt) returns the i-th argument (0-based) or dflt when absent. */
extern int rt_nargs;
extern const char *rt_cmdline;
int rt_arg(int i, int dflt);

/* ---- PSCI over hvc #0 ---------------------------------------------------- */
#define PSCI_CPU_OFF    0x84000002u
#define PSCI_CPU_ON     0x84000003u
#define PSCI_SYSTEM_OFF 0x84000008u
int psci_call(u32 fn, u32 a1, u32 a2, u32 a3);   /* start.S */
int psci_cpu_on(u32 mpidr, void (*entry)(void), u32 context);
NORETURN void psci_cpu_off(void);
NORETURN void psci_system_off(void);

static inline u32 cpu_id(void)
{
    u32 mpidr;
    __asm__ volatile("mrc p15, 0, %0, c0, c0, 5" : "=r"(mpidr));
    return mpidr & 0xff;
}

/* ---- barriers and exclusives -------------------------------------------- */
static inline void dmb(void) { __asm__ volatile("dmb ish" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("" ::: "memory"); }

static inline u32 ldrex(volatile u32 *p)
{
    u32 v;
    __asm__ volatile("ldrex %0, [%1]" : "=r"(v) : "r"(p) : "memory");
    return v;
}
/* returns 0 on success, 1 on failure (the STREX status) */
static inline u32 strex(volatile u32 *p, u32 v)
{
    u32 r;
    __asm__ volatile("strex %0, %2, [%1]" : "=&r"(r) : "r"(p), "r"(v) : "memory");
    return r;
}
static inline u32 ldrexh(volatile u16 *p)
{
    u32 v;
    __asm__ volatile("ldrexh %0, [%1]" : "=r"(v) : "r"(p) : "memory");
    return v;
}
static inline u32 strexh(volatile u16 *p, u32 v)
{
    u32 r;
    __asm__ volatile("strexh %0, %2, [%1]" : "=&r"(r) : "r"(p), "r"(v) : "memory");
    return r;
}
static inline u32 ldrexb(volatile u8 *p)
{
    u32 v;
    __asm__ volatile("ldrexb %0, [%1]" : "=r"(v) : "r"(p) : "memory");
    return v;
}
static inline u32 strexb(volatile u8 *p, u32 v)
{
    u32 r;
    __asm__ volatile("strexb %0, %2, [%1]" : "=&r"(r) : "r"(p), "r"(v) : "memory");
    return r;
}
/* 64-bit: GCC allocates u64 operands to an even/odd register pair in ARM state */
static inline u64 ldrexd(volatile u64 *p)
{
    u64 v;
    __asm__ volatile("ldrexd %0, %H0, [%1]" : "=&r"(v) : "r"(p) : "memory");
    return v;
}
static inline u32 strexd(volatile u64 *p, u64 v)
{
    u32 r;
    __asm__ volatile("strexd %0, %2, %H2, [%1]" : "=&r"(r) : "r"(p), "r"(v) : "memory");
    return r;
}
static inline void clrex(void) { __asm__ volatile("clrex" ::: "memory"); }

/* atomic add with an ldrex/strex loop; returns the new value.
 * *fails (if not NULL) is incremented once per failed strex. */
static inline u32 atomic_add(volatile u32 *p, u32 v, u32 *fails)
{
    u32 old;
    for (;;) {
        old = ldrex(p);
        if (strex(p, old + v) == 0)
            break;
        if (fails)
            (*fails)++;
    }
    return old + v;
}

/* ---- SMP --------------------------------------------------------------- */
/* Run fn(cpu, ncpus) on CPUs 0..n-1 (CPU 0 is the caller) and return when all
 * have returned; secondaries are powered off afterwards with PSCI CPU_OFF.
 * n <= 0 means "every CPU the board has" (secondaries are started until CPU_ON
 * fails).  Returns the number of CPUs used, or -1 if fewer than n could be
 * started (then fn is not run).  Call at most once per program.
 * Each secondary checks that the CPU_ON context (its index) arrived in r0 and
 * that MPIDR says the same; if not, the program prints why and exits 3. */
typedef void (*smp_fn)(int cpu, int ncpus);
int smp_run(int n, smp_fn fn);
/* barrier among the CPUs of smp_run (sense-reversing, ldrex/strex) */
void smp_barrier(void);

/* volatile access helpers */
#define READ_ONCE(x)     (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

#endif
