/* The few parts of libllama's public C interface that llama_peer uses, declared here
 * by this project (llama.h itself is not used). They follow the llama.cpp build that the
 * npm package @node-llama-cpp/linux-x64 3.22.1 ships (libllama "0.5.0-dev", commit 0ad4a86),
 * and were checked field by field against include/llama.h (and ggml-backend.h, ggml.h) of the
 * llama.cpp source that release is built from (npm node-llama-cpp 3.22.1 carries it as
 * llama/gitRelease.bundle): in that version llama_model_params has load_mode and lazy_mode
 * in place of the use_mmap booleans, and load_mtp; llama_context_params has
 * n_outputs_max_per_seq and ctx_other; llama_model_quantize_params has max_buf_size. Each
 * size was also measured against the library (the default-parameter functions write exactly
 * that many bytes), and llama_peer.c checks the layout again at each start from the
 * library's defaults, refusing a library that does not match: a changed ABI is an error,
 * never garbage. */
#ifndef LLAMA_ABI_H
#define LLAMA_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int32_t lp_token_t;
typedef int32_t lp_pos_t;
typedef int32_t lp_seq_id_t;

/* enum ggml_type values used here (stable in GGUF files) */
enum { LP_GGML_TYPE_F32 = 0, LP_GGML_TYPE_F16 = 1, LP_GGML_TYPE_Q8_0 = 8 };

/* struct llama_model_params: 80 bytes */
typedef struct {
    void *devices;               /* NULL-terminated device list; NULL: all */
    const void *tensor_buft_overrides;
    int32_t n_gpu_layers;        /* default -1 */
    int32_t split_mode;          /* enum llama_split_mode, default 1 (layer) */
    int32_t load_mode;           /* enum llama_load_mode, default -1 (auto) */
    int32_t lazy_mode;           /* enum llama_lazy_mode, default 1 (auto) */
    int32_t main_gpu;            /* default 0 */
    const float *tensor_split;
    void *progress_callback;
    void *progress_callback_user_data;
    const void *kv_overrides;
    bool vocab_only;
    bool check_tensors;
    bool use_extra_bufts;        /* default true: CPU weight repacking */
    bool no_host;
    bool no_alloc;
    bool load_mtp;
} lp_model_params_t;
_Static_assert(sizeof(lp_model_params_t) == 80, "llama_model_params is 80 bytes");

/* struct llama_context_params: 160 bytes */
typedef struct {
    uint32_t n_ctx;              /* default 512 */
    uint32_t n_batch;            /* default 2048 */
    uint32_t n_ubatch;           /* default 512 */
    uint32_t n_seq_max;          /* default 1 */
    uint32_t n_rs_seq;
    uint32_t n_outputs_max;
    uint32_t n_outputs_max_per_seq;
    int32_t n_threads;           /* default 4 (GGML_DEFAULT_N_THREADS) */
    int32_t n_threads_batch;     /* default 4 */
    int32_t ctx_type;
    int32_t rope_scaling_type;   /* default -1 */
    int32_t pooling_type;        /* default -1 */
    int32_t attention_type;      /* default -1 */
    int32_t flash_attn_type;     /* -1 auto (default), 0 off, 1 on */
    float rope_freq_base;        /* default 0: from the model */
    float rope_freq_scale;
    float yarn_ext_factor;       /* default -1 */
    float yarn_attn_factor;
    float yarn_beta_fast;
    float yarn_beta_slow;
    uint32_t yarn_orig_ctx;
    float defrag_thold;
    void *cb_eval;
    void *cb_eval_user_data;
    int32_t type_k;              /* enum ggml_type of the K cache, default F16 */
    int32_t type_v;              /* enum ggml_type of the V cache, default F16 */
    void *abort_callback;
    void *abort_callback_data;
    bool embeddings;
    bool offload_kqv;
    bool no_perf;
    bool op_offload;
    bool swa_full;
    bool kv_unified;
    void *samplers;
    size_t n_samplers;
    void *ctx_other;
} lp_context_params_t;
_Static_assert(sizeof(lp_context_params_t) == 160, "llama_context_params is 160 bytes");

/* struct llama_model_quantize_params: 64 bytes */
typedef struct {
    int32_t nthread;             /* <= 0: all hardware threads */
    int32_t ftype;               /* enum llama_ftype, default 7 (Q8_0) */
    int32_t output_tensor_type;  /* enum ggml_type, default GGML_TYPE_COUNT: by ftype */
    int32_t token_embedding_type;
    bool allow_requantize;
    bool quantize_output_tensor; /* default true */
    bool only_copy;
    bool pure;                   /* every tensor in ftype's base type */
    bool keep_split;
    bool dry_run;
    const void *imatrix;
    const void *kv_overrides;
    const void *tt_overrides;
    const int32_t *prune_layers;
    size_t max_buf_size;         /* default 8 GiB */
} lp_quantize_params_t;
_Static_assert(sizeof(lp_quantize_params_t) == 64, "llama_model_quantize_params is 64 bytes");

/* struct llama_batch: 56 bytes, passed by value to llama_decode */
typedef struct {
    int32_t n_tokens;
    lp_token_t *token;
    float *embd;
    lp_pos_t *pos;
    int32_t *n_seq_id;
    lp_seq_id_t **seq_id;
    int8_t *logits;              /* nonzero: output logits for this token */
} lp_batch_t;
_Static_assert(sizeof(lp_batch_t) == 56, "llama_batch is 56 bytes");

/* enum llama_ftype values (stable across releases) */
typedef struct {
    const char *name;
    int32_t ftype;
} lp_ftype_name_t;

static const lp_ftype_name_t lp_ftypes[] = {
    {"F32", 0},     {"F16", 1},     {"Q4_0", 2},    {"Q4_1", 3},    {"Q8_0", 7},
    {"Q5_0", 8},    {"Q5_1", 9},    {"Q2_K", 10},   {"Q3_K_S", 11}, {"Q3_K_M", 12},
    {"Q3_K_L", 13}, {"Q4_K_S", 14}, {"Q4_K_M", 15}, {"Q5_K_S", 16}, {"Q5_K_M", 17},
    {"Q6_K", 18},   {"Q2_K_S", 21}, {"BF16", 32},
};

#endif
