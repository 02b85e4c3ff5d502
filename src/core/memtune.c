#include "core/memtune.h"

#include <malloc.h>
#include <stdlib.h>

/* A server allocates and frees the same sizes over and over (response
 * buffers of tens of KB, per request; a photo's decoded pixels, megabytes
 * each). glibc by default gives freed memory back to the kernel past 128 KB
 * of slack and maps big blocks afresh each time, so every request paid page
 * faults: measured, the home feed ran at about half the throughput, and a
 * 12 MP photo's renditions cost about a third more CPU. Keep freed memory
 * for reuse instead; RSS stays at its high-water mark (recorded in
 * BENCHMARKS.md). Unless the operator set MALLOC_TRIM_THRESHOLD_ /
 * MALLOC_MMAP_THRESHOLD_ already. */
void memtune_server(void)
{
    if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL)
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
        mallopt(M_MMAP_THRESHOLD, 16 << 20);
}
