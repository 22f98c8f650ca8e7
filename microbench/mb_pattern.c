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

static inline uint32_t slot_seed(uint32_t seed, int j) { return seed + (uint32_t)j * 104729u; }

void mb_slots_fill(uint8_t *buf, size_t size, int slots, uint32_t seed, int corrupt)
{
    for (int j = 0; j < slots; j++)
        mb_pattern_fill(buf + (size_t)j * size, size, slot_seed(seed, j));
    if (corrupt && slots > 0 && size > 0)
        buf[(size_t)slots * size - 1] ^= 0x5a;
}

cb_status_t mb_slots_check(const uint8_t *buf, size_t size, int slots, uint32_t seed, const char *what)
{
    cb_status_t bad = CB_OK;
    for (int j = 0; j < slots; j++)
        mb_keep_first(&bad, mb_pattern_check((void *)(buf + (size_t)j * size), size, slot_seed(seed, j), 0, what));
    return bad;
}
