/* RoPE scaling: reading what a GGUF file says ({arch}.rope.scaling.*, the
 * legacy rope.scale_linear, Llama 3.1's rope_freqs.weight) and turning it into
 * each pair's frequency and the magnitude of cos and sin. Linear interpolation
 * divides every frequency by the factor; YaRN (Peng et al. 2023) interpolates
 * only the slow pairs, with a linear ramp between beta_slow and beta_fast
 * rotations over the original context, and scales the attention logits. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "llm.h"

/* ================================================================ reading */

/* A number under "ARCH.rope.KEY", or def when absent; 0 on a wrong kind. */
static int rope_kv_num(const llm_desc_t *desc, const char *arch, const char *key, double def, double *v)
{
    char full[160];
    snprintf(full, sizeof full, "%s.rope.%s", arch, key);
    const llm_kv_t *kv = llm_desc_kv(desc, full);
    *v = def;
    if (!kv)
        return 1;
    if (kv->kind == LLM_KV_FLOAT)
        *v = kv->f;
    else if (kv->kind == LLM_KV_INT || kv->kind == LLM_KV_BOOL)
        *v = (double)kv->i;
    else {
        cb_error("GGUF: metadata %s is not a number", full);
        return 0;
    }
    return 1;
}

cb_status_t llm_rope_scaling_read(const llm_desc_t *desc, const char *arch, llm_rope_scaling_t *rs)
{
    char full[160];
    double factor, legacy, orig, bf, bs, ext, af, lm;
    memset(rs, 0, sizeof *rs);
    snprintf(full, sizeof full, "%s.rope.scaling.type", arch);
    const llm_kv_t *type = llm_desc_kv(desc, full);
    if (type && type->kind != LLM_KV_STRING) {
        cb_error("GGUF: metadata %s is not a string", full);
        return CB_ERR_INPUT;
    }
    if (!rope_kv_num(desc, arch, "scale_linear", 0, &legacy) ||
        !rope_kv_num(desc, arch, "scaling.factor", legacy, &factor) ||
        !rope_kv_num(desc, arch, "scaling.original_context_length", 0, &orig) ||
        !rope_kv_num(desc, arch, "scaling.yarn_beta_fast", 32, &bf) ||
        !rope_kv_num(desc, arch, "scaling.yarn_beta_slow", 1, &bs) ||
        !rope_kv_num(desc, arch, "scaling.yarn_ext_factor", -1, &ext) ||
        !rope_kv_num(desc, arch, "scaling.attn_factor", 1, &af) ||
        !rope_kv_num(desc, arch, "scaling.yarn_log_multiplier", 0, &lm))
        return CB_ERR_INPUT;
    /* As llama.cpp reads it: no type but a factor means linear. */
    const char *kind = type ? type->s : (factor != 0 && factor != 1 ? "linear" : "none");
    if (!(factor == 0 || (factor >= 1 && factor <= 1e4)) || !(af > 0 && af <= 100) || !(lm >= 0 && lm <= 10) ||
        !(bf > 0 && bf <= 1e4) || !(bs > 0 && bs <= bf) || !(ext <= 1) || !(orig >= 0 && orig <= (1 << 24))) {
        cb_error("GGUF: %s.rope.scaling.* values are out of range (factor %g, attn_factor %g, yarn_log_multiplier %g, "
                 "beta %g..%g, ext_factor %g, original_context_length %g)", arch, factor, af, lm, bs, bf, ext, orig);
        return CB_ERR_INPUT;
    }
    snprintf(full, sizeof full, "%s.rope.scaling.yarn_attn_factor", arch);
    if (llm_desc_kv(desc, full)) {
        cb_error("GGUF: %s is not supported (a YaRN magnitude override)", full);
        return CB_ERR_UNSUPPORTED;
    }
    rs->factor = factor == 0 ? 1.0f : (float)factor;
    rs->attn_factor = (float)af;
    rs->freq_factors = llm_desc_find(desc, "rope_freqs.weight") >= 0;
    if (!strcmp(kind, "none") || rs->factor == 1.0f) {
        rs->kind = LLM_ROPE_NONE;
        rs->factor = 1.0f;
        if (strcmp(kind, "none") && strcmp(kind, "linear") && strcmp(kind, "yarn")) {
            cb_error("GGUF: RoPE scaling '%.32s' is not supported (none, linear and yarn are)", kind);
            return CB_ERR_UNSUPPORTED;
        }
        return CB_OK;
    }
    if (!strcmp(kind, "linear")) {
        rs->kind = LLM_ROPE_LINEAR;
        return CB_OK;
    }
    if (!strcmp(kind, "yarn")) {
        if (orig < 1) {
            cb_error("GGUF: YaRN RoPE scaling without %s.rope.scaling.original_context_length", arch);
            return CB_ERR_INPUT;
        }
        rs->kind = LLM_ROPE_YARN;
        rs->orig_ctx = (int)orig;
        rs->beta_fast = (float)bf;
        rs->beta_slow = (float)bs;
        rs->ext_factor = ext < 0 ? 1.0f : (float)ext;
        rs->log_mul = (float)lm;
        return CB_OK;
    }
    cb_error("GGUF: RoPE scaling '%.32s' is not supported (none, linear and yarn are)", kind);
    return CB_ERR_UNSUPPORTED;
}

/* ================================================================ frequencies */

/* The pair index at which a frequency makes `rot` turns over orig_ctx
 * positions: solve orig_ctx * theta^(-2j/n) = 2 pi rot for j. */
static double yarn_corr_dim(int n_dims, int orig_ctx, double rot, double theta)
{
    return n_dims * log(orig_ctx / (rot * 2 * M_PI)) / (2 * log(theta));
}

/* 1 + 0.1 m ln s: YaRN's magnitude for a factor s (1 when s <= 1). */
static double yarn_mscale(double s, double m)
{
    return s <= 1 ? 1.0 : 0.1 * m * log(s) + 1.0;
}

void llm_rope_freqs(const llm_config_t *c, int n_dims, const float *freq_factors, double *inv_freq, float *mscale_p)
{
    const llm_rope_scaling_t *rs = &c->rope_scaling;
    double mscale = rs->attn_factor > 0 ? rs->attn_factor : 1.0;
    double low = 0, high = 0;
    if (rs->kind == LLM_ROPE_YARN) {
        low = floor(yarn_corr_dim(n_dims, rs->orig_ctx, rs->beta_fast, c->rope_theta));
        high = ceil(yarn_corr_dim(n_dims, rs->orig_ctx, rs->beta_slow, c->rope_theta));
        low = low > 0 ? low : 0;
        high = high < n_dims - 1 ? high : n_dims - 1;
        if (rs->ext_factor != 0) {
            /* The cos/sin magnitude: 1 + 0.1 ln s, unless the file gives the
             * attention's own multiplier (mscale_all_dim); deepseek2 applies
             * all of it to the logits (llm_rope_attn_scale), keeping cos/sin at 1. */
            if (rs->log_mul != 0)
                mscale *= c->arch == LLM_ARCH_DEEPSEEK2 ? 1.0 : yarn_mscale(rs->factor, 1) / yarn_mscale(rs->factor, rs->log_mul);
            else
                mscale *= yarn_mscale(rs->factor, 1);
        }
    }
    for (int j = 0; j < n_dims / 2; j++) {
        double f = pow((double)c->rope_theta, -2.0 * (double)j / (double)n_dims);
        if (freq_factors)
            f /= (double)freq_factors[j];
        if (rs->kind == LLM_ROPE_LINEAR) {
            f /= rs->factor;
        } else if (rs->kind == LLM_ROPE_YARN) {
            /* ramp 1 at the fast pairs (kept), 0 at the slow ones (interpolated) */
            double y = (j - low) / (high - low > 0.001 ? high - low : 0.001);
            double ramp = 1.0 - (y < 0 ? 0 : y > 1 ? 1 : y), mix = ramp * rs->ext_factor;
            f = f / rs->factor * (1 - mix) + f * mix;
        }
        inv_freq[j] = f;
    }
    *mscale_p = (float)mscale;
}

float llm_rope_attn_scale(const llm_config_t *c, int key_dims)
{
    const llm_rope_scaling_t *rs = &c->rope_scaling;
    double m = 1.0;
    /* DeepSeek's softmax scale under YaRN: (1 + 0.1 mscale_all_dim ln s)^2 / sqrt(d),
     * the file's yarn_log_multiplier being 0.1 mscale_all_dim. */
    if (c->arch == LLM_ARCH_DEEPSEEK2 && rs->kind == LLM_ROPE_YARN && rs->ext_factor != 0)
        m = 1.0 + rs->log_mul * log(rs->factor);
    return (float)(m * m / sqrt((double)key_dims));
}

const char *llm_rope_describe(const llm_config_t *c, char *buf, size_t n)
{
    const llm_rope_scaling_t *rs = &c->rope_scaling;
    int o = 0;
    if (rs->kind == LLM_ROPE_LINEAR)
        o = snprintf(buf, n, "linear x%g", rs->factor);
    else if (rs->kind == LLM_ROPE_YARN)
        o = snprintf(buf, n, "yarn x%g from %d (beta %g..%g, log_mul %g)", rs->factor, rs->orig_ctx, rs->beta_slow,
                     rs->beta_fast, rs->log_mul);
    else
        o = snprintf(buf, n, "no scaling");
    if (rs->freq_factors && o >= 0 && (size_t)o < n)
        snprintf(buf + o, n - (size_t)o, ", rope_freqs.weight");
    return buf;
}
