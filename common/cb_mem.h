/* Memory: checked, aligned allocation and the host's memory size, so that a
 * run that would not fit is refused before it starts. */
#ifndef CB_MEM_H
#define CB_MEM_H

#include <stddef.h>
#include "cb_status.h"

#define CB_ALIGN 64

/* Allocate `bytes` aligned to CB_ALIGN (zeroed if `zero`). On failure logs
 * "cannot allocate WHAT (N bytes)" with cb_error and returns NULL. `bytes`
 * of 0 allocates one line. Local. Free with cb_free. */
void *cb_alloc(size_t bytes, int zero, const char *what);
void cb_free(void *ptr);

/* n * size, or SIZE_MAX when it overflows (so cb_alloc fails cleanly). */
size_t cb_mul_size(size_t n, size_t size);

/* Physical memory of this host in bytes (/proc/meminfo MemTotal, and
 * MemAvailable), or 0 if unknown. Local. */
unsigned long long cb_mem_total_bytes(void);
unsigned long long cb_mem_available_bytes(void);

#endif
