/* Validation patterns: what --validate fills send buffers with and checks
 * every received byte against. The pattern depends on a seed that changes
 * from one call to the next, so a stale buffer does not pass. */
#include "mb.h"

void mb_pattern_fill(void *buf, size_t size, uint32_t seed)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < size; i++)
        p[i] = mb_pattern_byte(seed, i);
}

cb_status_t mb_pattern_check(void *buf, size_t size, uint32_t seed, int corrupt, const char *what)
{
    uint8_t *p = buf;
    if (corrupt && size > 0)
        p[size / 2] ^= 0x5a; /* --inject-corruption: prove that the check can fail */
    for (size_t i = 0; i < size; i++) {
        if (p[i] != mb_pattern_byte(seed, i)) {
            cb_error("validation failed: %s: byte %zu of %zu is 0x%02x, expected 0x%02x",
                     what, i, size, p[i], mb_pattern_byte(seed, i));
            return CB_ERR_CHECK;
        }
    }
    return CB_OK;
}
