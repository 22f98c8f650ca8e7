/* Grouped-query attention over the KV cache, tiled like flash attention:
 * keys and values are read a tile of LLM_ATT_KT positions at a time,
 * converted once from the cache's type (F16, Q8_0) to floats, and used by
 * every query row that shares their KV head (the group's heads times a
 * block of tokens); an online softmax (running maximum m, running sum l,
 * the output rescaled when m grows) means no row of scores as long as the
 * context is ever kept, so long prompts and deep contexts stream through
 * the cache once per block instead of once per query. */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "llm.h"

#define LLM_ATT_KT 64   /* keys per tile */
#define LLM_ATT_ROWS 64 /* query rows (tokens x heads of a KV head) per work item at most */

size_t llm_attention_scratch(int hd)
{
    return 2 * (size_t)LLM_ATT_KT * (size_t)hd + LLM_ATT_KT + 2 * LLM_ATT_ROWS;
}

/* Keys [t0, t0 + nt) of KV head kvh as rows of hd floats: straight from an
 * F32 cache, else converted into buf. Returns the first row; *stride_p the
 * floats between rows. */
static const float *tile_rows(const llm_attn_t *a, const void *cache, int kvh, int t0, int nt, float *buf, size_t *stride_p)
{
    const size_t head_off = llm_type_bytes(a->kv_type, (int64_t)kvh * a->hd);
    const char *base = (const char *)cache + (size_t)t0 * a->row_bytes + head_off;
    if (a->kv_type == LLM_F32) {
        *stride_p = a->row_bytes / sizeof(float);
        return (const float *)(const void *)base;
    }
    for (int j = 0; j < nt; j++)
        llm_row_to_float(a->kv_type, base + (size_t)j * a->row_bytes, buf + (size_t)j * a->hd, a->hd);
    *stride_p = (size_t)a->hd;
    return buf;
}

void llm_attention(const llm_attn_t *a)
{
    const int hd = a->hd, qd = a->nq * hd;
    /* The query heads of each KV head are consecutive: [hq0(k), hq1(k)). */
    int bq = LLM_ATT_ROWS / (a->group > 0 ? a->group : 1);
    bq = bq < 1 ? 1 : bq;
    const int nblk = (a->b + bq - 1) / bq, nwork = a->nkv * nblk;
#pragma omp parallel for schedule(dynamic, 1)
    for (int wi = 0; wi < nwork; wi++) {
        const int kvh = wi / nblk, i0 = (wi % nblk) * bq, i1 = i0 + bq < a->b ? i0 + bq : a->b;
        int th = 0;
#ifdef _OPENMP
        th = omp_get_thread_num();
#endif
        float *kbuf = a->scratch + (size_t)th * llm_attention_scratch(hd);
        float *vbuf = kbuf + (size_t)LLM_ATT_KT * hd, *s = vbuf + (size_t)LLM_ATT_KT * hd;
        float *m = s + LLM_ATT_KT, *l = m + LLM_ATT_ROWS;
        /* this rank's query heads on KV head kvh (global kv0 + kvh) */
        int hq0 = (a->kv0 + kvh) * a->group - a->h0, hq1 = hq0 + a->group;
        hq0 = hq0 < 0 ? 0 : hq0;
        hq1 = hq1 > a->nq ? a->nq : hq1;
        const int nh = hq1 - hq0;
        if (nh <= 0)
            continue;
        for (int r = 0; r < (i1 - i0) * nh; r++) {
            m[r] = -INFINITY;
            l[r] = 0;
            int i = i0 + r / nh, h = hq0 + r % nh;
            memset(a->o + (size_t)i * qd + (size_t)h * hd, 0, sizeof(float) * (size_t)hd);
        }
        const int t_end = a->pos + i1; /* positions [0, t_end) are seen by the block's last token */
        for (int t0 = 0; t0 < t_end; t0 += LLM_ATT_KT) {
            const int nt = t_end - t0 < LLM_ATT_KT ? t_end - t0 : LLM_ATT_KT;
            size_t ks, vs;
            const float *kr = tile_rows(a, a->k, kvh, t0, nt, kbuf, &ks);
            const float *vr = tile_rows(a, a->v, kvh, t0, nt, vbuf, &vs);
            for (int r = 0; r < (i1 - i0) * nh; r++) {
                const int i = i0 + r / nh, h = hq0 + r % nh;
                const int nv = a->pos + i + 1 - t0 < nt ? a->pos + i + 1 - t0 : nt; /* causal */
                if (nv <= 0)
                    continue;
                const float *q = a->q + (size_t)i * qd + (size_t)h * hd;
                float *o = a->o + (size_t)i * qd + (size_t)h * hd;
                float mx = m[r];
                for (int j = 0; j < nv; j++) {
                    s[j] = llm_dot_row(LLM_F32, kr + (size_t)j * ks, q, NULL, hd) * a->scale;
                    mx = s[j] > mx ? s[j] : mx;
                }
                if (mx > m[r]) { /* the maximum grew: rescale what is summed so far */
                    float c = expf(m[r] - mx);
                    l[r] *= c;
                    if (c != 1.0f)
                        for (int d = 0; d < hd; d++)
                            o[d] *= c;
                    m[r] = mx;
                }
                for (int j = 0; j < nv; j++) {
                    float p = expf(s[j] - mx);
                    l[r] += p;
                    llm_axpy(p, vr + (size_t)j * vs, o, hd);
                }
            }
        }
        for (int r = 0; r < (i1 - i0) * nh; r++) {
            int i = i0 + r / nh, h = hq0 + r % nh;
            float *o = a->o + (size_t)i * qd + (size_t)h * hd, inv = 1.0f / l[r];
            for (int d = 0; d < hd; d++)
                o[d] *= inv;
        }
    }
}
