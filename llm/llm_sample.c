/* Sampling the next token from logits: greedy, or temperature with nucleus
 * (top-p) truncation, from a seeded xorshift generator so runs repeat. */
#include <math.h>
#include <stdlib.h>
#include "llm.h"

void llm_sampler_init(llm_sampler_t *s, float temperature, float top_p, uint64_t seed)
{
    s->temperature = temperature;
    s->top_p = top_p;
    s->state = seed ? seed : 0x2545f4914f6cdd1dull;
}

static float sampler_uniform(llm_sampler_t *s)
{
    s->state ^= s->state >> 12;
    s->state ^= s->state << 25;
    s->state ^= s->state >> 27;
    return (float)((s->state * 0x2545f4914f6cdd1dull) >> 40) / 16777216.0f; /* [0, 1) */
}

static const float *cmp_base;
static int cmp_desc(const void *a, const void *b)
{
    float x = cmp_base[*(const int *)a], y = cmp_base[*(const int *)b];
    return x < y ? 1 : x > y ? -1 : (*(const int *)a - *(const int *)b);
}

int llm_sample(llm_sampler_t *s, float *logits, int n, int *idx)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    if (s->temperature <= 0)
        return best;
    float mx = logits[best], sum = 0;
    for (int i = 0; i < n; i++) {
        logits[i] = expf((logits[i] - mx) / s->temperature);
        sum += logits[i];
    }
    for (int i = 0; i < n; i++)
        logits[i] /= sum;
    float u = sampler_uniform(s);
    if (s->top_p <= 0 || s->top_p >= 1) {
        float cdf = 0;
        for (int i = 0; i < n; i++) {
            cdf += logits[i];
            if (u < cdf)
                return i;
        }
        return n - 1;
    }
    /* Nucleus: the smallest set of most likely tokens whose mass reaches top_p. */
    for (int i = 0; i < n; i++)
        idx[i] = i;
    cmp_base = logits;
    qsort(idx, (size_t)n, sizeof *idx, cmp_desc);
    float mass = 0;
    int last = n - 1;
    for (int i = 0; i < n; i++) {
        mass += logits[idx[i]];
        if (mass >= s->top_p) {
            last = i;
            break;
        }
    }
    float r = u * mass, cdf = 0;
    for (int i = 0; i <= last; i++) {
        cdf += logits[idx[i]];
        if (r < cdf)
            return idx[i];
    }
    return idx[last];
}
