/* Checked aligned allocation and the host's memory size. */
#include "cb_mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *cb_alloc(size_t bytes, int zero, const char *what)
{
    void *ptr = NULL;
    size_t rounded = bytes == 0 ? CB_ALIGN : bytes;
    if (rounded > SIZE_MAX - CB_ALIGN || posix_memalign(&ptr, CB_ALIGN, rounded) != 0) {
        cb_error("cannot allocate %s (%zu bytes)", what, bytes);
        return NULL;
    }
    if (zero)
        memset(ptr, 0, rounded);
    return ptr;
}

void cb_free(void *ptr) { free(ptr); }

size_t cb_mul_size(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return SIZE_MAX;
    return n * size;
}

static unsigned long long meminfo_field(const char *field)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    size_t len = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kib = strtoull(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib * 1024ULL;
}

unsigned long long cb_mem_total_bytes(void) { return meminfo_field("MemTotal"); }
unsigned long long cb_mem_available_bytes(void) { return meminfo_field("MemAvailable"); }
