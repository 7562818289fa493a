/* compute: single-CPU, non-atomic work.  Per round: CRC-32 (bitwise and
 * table-driven) over a generated 8 KiB buffer, a sort of 2000 pseudo-random
 * integers (LCG) with a heap sort and a check, a 24x24 integer matrix product,
 * and 64-bit multiplies, divisions and shifts.  Prints a checksum per part and
 * a total; then the M extension's corner cases (division by zero, the one
 * signed overflow, high products) with their results.  Runs on hart 0 only,
 * whatever -smp says (the other harts park).
 *
 *   compute [rounds] [small]   rounds: default 2 (a few million instructions
 *                              each); small = 1: an eighth of the work per
 *                              round (quick tests) */
#include "rt.h"

static int run(int rounds);

#define BUF_BYTES 8192
#define NSORT 2000
#define MDIM 24

static u8 buf[BUF_BYTES] ALIGNED(4096);
static u32 crc_table[256];
static s32 arr[NSORT];
static s32 ma[MDIM][MDIM], mb[MDIM][MDIM], mc[MDIM][MDIM];

static u32 lcg_state;
static u32 lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state;
}

static u32 nbuf = BUF_BYTES, nsort = NSORT, mdim = MDIM, nwide = 200;

static u32 crc32_bitwise(const u8 *p, u32 n)
{
    u32 crc = 0xffffffffu;
    while (n--) {
        int k;
        crc ^= *p++;
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void crc32_init(void)
{
    u32 i;
    for (i = 0; i < 256; i++) {
        u32 c = i;
        int k;
        for (k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        crc_table[i] = c;
    }
}

static u32 crc32_table(const u8 *p, u32 n)
{
    u32 crc = 0xffffffffu;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void sift_down(s32 *a, int start, int end)
{
    int root = start;
    while (2 * root + 1 <= end) {
        int child = 2 * root + 1, sw = root;
        if (a[sw] < a[child])
            sw = child;
        if (child + 1 <= end && a[sw] < a[child + 1])
            sw = child + 1;
        if (sw == root)
            return;
        s32 t = a[root];
        a[root] = a[sw];
        a[sw] = t;
        root = sw;
    }
}

static void heap_sort(s32 *a, int n)
{
    int start, end;
    for (start = (n - 2) / 2; start >= 0; start--)
        sift_down(a, start, n - 1);
    for (end = n - 1; end > 0; end--) {
        s32 t = a[end];
        a[end] = a[0];
        a[0] = t;
        sift_down(a, 0, end - 1);
    }
}

static u32 do_sort(void)
{
    u32 h = 0;
    int i;
    for (i = 0; i < (int)nsort; i++)
        arr[i] = (s32)(lcg() >> 1) - 0x20000000;     /* mixed signs */
    heap_sort(arr, (int)nsort);
    for (i = 0; i < (int)nsort; i++) {
        if (i && arr[i - 1] > arr[i])
            return 0xdeadbeefu;                      /* not sorted */
        h = h * 31u + (u32)arr[i];
    }
    return h;
}

static u32 do_matrix(void)
{
    int i, j, k;
    u32 h = 0;
    for (i = 0; i < (int)mdim; i++)
        for (j = 0; j < (int)mdim; j++) {
            ma[i][j] = (s32)(lcg() % 2001u) - 1000;
            mb[i][j] = (s32)(lcg() % 2001u) - 1000;
        }
    for (i = 0; i < (int)mdim; i++)
        for (j = 0; j < (int)mdim; j++) {
            s32 s = 0;
            for (k = 0; k < (int)mdim; k++)
                s += ma[i][k] * mb[k][j];
            mc[i][j] = s;
        }
    for (i = 0; i < (int)mdim; i++)
        for (j = 0; j < (int)mdim; j++)
            h = (h ^ (u32)mc[i][j]) * 16777619u;
    return h;
}

static u64 do_wide(void)
{
    u64 acc = 0x0123456789abcdefull;
    s64 sacc = -1234567890123ll;
    int i;
    for (i = 0; i < (int)nwide; i++) {
        u64 x = ((u64)lcg() << 32) | lcg();
        u32 d = lcg() | 1;
        u64 y = x * 0x9e3779b97f4a7c15ull;       /* 64x64 multiply */
        u64 q = y / ((u64)d << (i & 7));         /* 64/64 division */
        u64 r = y % (d + 0x100000000ull);
        s64 sq = (s64)x / (s64)(s32)(d | 0x80000000u);  /* signed */
        s64 prod = (s64)(s32)lcg() * (s64)(s32)d;        /* smull */
        u64 uprod = (u64)lcg() * (u64)d;                 /* umull */
        acc += q ^ (r << 7) ^ (acc >> 13) ^ uprod;
        sacc += sq + (prod >> 3);
        acc += (u64)sacc;
        acc = (acc << 5) | (acc >> 59);
        acc += (u32)(x / (d >> 3 | 1)) + (u32)x % 1000u; /* 32-bit divisions */
    }
    return acc;
}

/* RISC-V M: x/0 = -1 (all ones), x%0 = x, INT_MIN/-1 = INT_MIN, INT_MIN%-1 = 0 */
static u32 m_corners(void)
{
    static const u32 vals[] = {0, 1, 2, 7, 0x7fffffffu, 0x80000000u, 0xffffffffu,
                               0xfffffff9u, 0x12345678u, 0xdeadbeefu};
    u32 h = 0x811c9dc5u;
    unsigned i, j;
    for (i = 0; i < sizeof vals / sizeof vals[0]; i++)
        for (j = 0; j < sizeof vals / sizeof vals[0]; j++) {
            u32 a = vals[i], b = vals[j], r[8];
            int k;
            __asm__ volatile("div %0, %1, %2" : "=r"(r[0]) : "r"(a), "r"(b));
            __asm__ volatile("divu %0, %1, %2" : "=r"(r[1]) : "r"(a), "r"(b));
            __asm__ volatile("rem %0, %1, %2" : "=r"(r[2]) : "r"(a), "r"(b));
            __asm__ volatile("remu %0, %1, %2" : "=r"(r[3]) : "r"(a), "r"(b));
            __asm__ volatile("mul %0, %1, %2" : "=r"(r[4]) : "r"(a), "r"(b));
            __asm__ volatile("mulh %0, %1, %2" : "=r"(r[5]) : "r"(a), "r"(b));
            __asm__ volatile("mulhsu %0, %1, %2" : "=r"(r[6]) : "r"(a), "r"(b));
            __asm__ volatile("mulhu %0, %1, %2" : "=r"(r[7]) : "r"(a), "r"(b));
            for (k = 0; k < 8; k++)
                h = (h ^ r[k]) * 16777619u;
        }
    return h;
}

static int rounds_arg, status;

static void work(int cpu, int ncpus)
{
    (void)cpu;
    (void)ncpus;
    status = run(rounds_arg);
}

int main(void)
{
    rounds_arg = rt_arg(0, 2);
    if (rt_arg(1, 0) == 1) {
        nbuf = BUF_BYTES / 8;
        nsort = NSORT / 8;
        mdim = MDIM / 2;
        nwide = 200 / 8;
    }
    smp_run(1, work);
    return status;
}

static int run(int rounds)
{
    int r, i;
    u32 crc_b = 0, crc_t = 0, sorth = 0, math = 0, total = 0;
    u64 wide = 0;

    u32 mh;
    if (rounds < 1) {
        rt_puts("compute: bad arguments\n");
        return 2;
    }
    crc32_init();
    lcg_state = 12345;
    for (r = 0; r < rounds; r++) {
        for (i = 0; i < (int)nbuf; i++)
            buf[i] = (u8)(lcg() >> 24);
        crc_b = crc32_bitwise(buf, nbuf);
        crc_t = crc32_table(buf, nbuf);
        if (crc_b != crc_t) {
            rt_puts("compute: CRC mismatch\n");
            return 1;
        }
        sorth = do_sort();
        if (sorth == 0xdeadbeefu) {
            rt_puts("compute: sort failed\n");
            return 1;
        }
        math = do_matrix();
        wide = do_wide();
        total = (total * 33u) ^ crc_b ^ sorth ^ math ^ (u32)wide ^ (u32)(wide >> 32);
    }
    /* a known answer: CRC-32 of "123456789" is 0xcbf43926 */
    if (crc32_table((const u8 *)"123456789", 9) != 0xcbf43926u) {
        rt_puts("compute: CRC self-test failed\n");
        return 1;
    }
    rt_puts("compute: rounds=");
    rt_putd(rounds);
    rt_puts(" crc=");
    rt_putx(crc_b);
    rt_puts(" sort=");
    rt_putx(sorth);
    rt_puts(" matrix=");
    rt_putx(math);
    rt_puts(" wide=");
    rt_putx64(wide);
    rt_puts(" checksum=");
    rt_putx(total);
    rt_nl();
    mh = m_corners();
    rt_puts("compute: m-corners=");
    rt_putx(mh);
    {
        volatile u32 z = 0, m1 = 0xffffffffu, mn = 0x80000000u, seven = 7;
        rt_puts(" 7/0=");
        rt_putx((u32)((s32)seven / (s32)z));
        rt_puts(" 7%0=");
        rt_putu((u32)((s32)seven % (s32)z));
        rt_puts(" min/-1=");
        rt_putx((u32)((s32)mn / (s32)m1));
        rt_puts(" min%-1=");
        rt_putu((u32)((s32)mn % (s32)m1));
    }
    rt_nl();
    return 0;
}
