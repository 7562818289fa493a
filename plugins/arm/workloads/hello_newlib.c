/* hello_newlib: a hosted C program linked against newlib's ARM-state (ARMv4T)
 * multilib with rdimon (semihosting) I/O.  newlib's crt0 fetches argc/argv
 * with SYS_GET_CMDLINE.  Single CPU.
 *
 *   hello_newlib [words...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char **argv)
{
    int i;
    unsigned long sum = 0;
    char buf[64];

    printf("hello_newlib: argc=%d\n", argc);
    for (i = 1; i < argc; i++)
        printf("  argv[%d]=\"%s\" len=%d\n", i, argv[i], (int)strlen(argv[i]));
    for (i = 0; i < 20; i++)
        sum += (unsigned long)fib(i);
    snprintf(buf, sizeof buf, "%s-%05d-%#x", "fib", fib(15), 48879);
    printf("hello_newlib: sum=%lu hex=%x str=%s neg=%d\n", sum, 0xc0ffee, buf, -42);
    if (strcmp(buf, "fib-00610-0xbeef") != 0) {
        printf("hello_newlib: FAIL\n");
        return 1;
    }
    char *heap = malloc(1000);
    if (!heap) {
        printf("hello_newlib: malloc failed\n");
        return 1;
    }
    memset(heap, 'x', 999);
    heap[999] = 0;
    printf("hello_newlib: malloc ok len=%d\n", (int)strlen(heap));
    free(heap);
    return 0;
}
