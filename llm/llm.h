/* llm: a tensor-parallel transformer (Llama, Qwen2, Qwen3) over MPI.
 * The types every llm_ file shares: tensor types, the model description read
 * from a file or made up (--shape), the shard plan, weights and run state. */
#ifndef LLM_H
#define LLM_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>
#include "cb.h"
#include "llm_team.h"

/* ================================================================ tensor types */

/* ggml's numbering, as stored in GGUF. */
typedef enum {
    LLM_F32 = 0,
    LLM_F16 = 1,
    LLM_Q4_0 = 2,
    LLM_Q4_1 = 3,
    LLM_Q5_0 = 6,
    LLM_Q5_1 = 7,
    LLM_Q8_0 = 8,
    LLM_Q2_K = 10,
    LLM_Q3_K = 11,
    LLM_Q4_K = 12,
    LLM_Q5_K = 13,
    LLM_Q6_K = 14,
    LLM_Q8_K = 15,
    LLM_BF16 = 30,
} llm_type_t;
#define LLM_TYPE_IDS 31 /* type ids are below this */

/* The block formats, byte for byte as ggml stores them (ggml-common.h);
 * fp16 fields are raw uint16_t. */
#define LLM_QK 32    /* elements per block of the legacy types */
#define LLM_QK_K 256 /* elements per super-block of the K-quants */

typedef struct { uint16_t d; int8_t qs[LLM_QK]; } llm_block_q8_0_t;
_Static_assert(sizeof(llm_block_q8_0_t) == 34, "Q8_0 block is 34 bytes");
typedef struct { uint16_t d; uint8_t qs[LLM_QK / 2]; } llm_block_q4_0_t; /* x = d (q - 8) */
_Static_assert(sizeof(llm_block_q4_0_t) == 18, "Q4_0 block is 18 bytes");
typedef struct { uint16_t d, m; uint8_t qs[LLM_QK / 2]; } llm_block_q4_1_t; /* x = d q + m */
_Static_assert(sizeof(llm_block_q4_1_t) == 20, "Q4_1 block is 20 bytes");
/* Element j's fifth bit is bit j of qh (little-endian 32 bits). */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[LLM_QK / 2]; } llm_block_q5_0_t; /* x = d (q - 16) */
_Static_assert(sizeof(llm_block_q5_0_t) == 22, "Q5_0 block is 22 bytes");
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[LLM_QK / 2]; } llm_block_q5_1_t; /* x = d q + m */
_Static_assert(sizeof(llm_block_q5_1_t) == 24, "Q5_1 block is 24 bytes");

/* 16 sub-blocks of 16: x = d (scales & 15) q - dmin (scales >> 4), q 2 bits. */
typedef struct { uint8_t scales[LLM_QK_K / 16]; uint8_t qs[LLM_QK_K / 4]; uint16_t d, dmin; } llm_block_q2_K_t;
_Static_assert(sizeof(llm_block_q2_K_t) == 84, "Q2_K block is 84 bytes");
/* 16 sub-blocks of 16: x = d (s - 32) (q - 4 (1 - high bit)), s 6 bits packed in 12 bytes. */
typedef struct { uint8_t hmask[LLM_QK_K / 8]; uint8_t qs[LLM_QK_K / 4]; uint8_t scales[12]; uint16_t d; } llm_block_q3_K_t;
_Static_assert(sizeof(llm_block_q3_K_t) == 110, "Q3_K block is 110 bytes");
/* 8 sub-blocks of 32: x = d s q - dmin m, s and m 6 bits packed in 12 bytes, q 4 bits. */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[LLM_QK_K / 2]; } llm_block_q4_K_t;
_Static_assert(sizeof(llm_block_q4_K_t) == 144, "Q4_K block is 144 bytes");
/* As Q4_K with a fifth bit per element in qh. */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[LLM_QK_K / 8]; uint8_t qs[LLM_QK_K / 2]; } llm_block_q5_K_t;
_Static_assert(sizeof(llm_block_q5_K_t) == 176, "Q5_K block is 176 bytes");
/* 16 sub-blocks of 16: x = d scales (q - 32), q 6 bits: 4 in ql, 2 in qh. */
typedef struct { uint8_t ql[LLM_QK_K / 2]; uint8_t qh[LLM_QK_K / 4]; int8_t scales[LLM_QK_K / 16]; uint16_t d; } llm_block_q6_K_t;
_Static_assert(sizeof(llm_block_q6_K_t) == 210, "Q6_K block is 210 bytes");
/* Activations for the K-quant dots: one float scale per 256, sums per 16. */
typedef struct { float d; int8_t qs[LLM_QK_K]; int16_t bsums[LLM_QK_K / 16]; } llm_block_q8_K_t;
_Static_assert(sizeof(llm_block_q8_K_t) == 292, "Q8_K block is 292 bytes");

/* An activation vector quantized for the integer dots of the legacy types:
 * a float scale and the sums of each half of qs (for the types with
 * offsets and minimums). A scratch of n / LLM_QK of these also holds n
 * elements as Q8_K blocks (320 bytes per 256 elements >= 292). */
typedef struct { float d; int16_t s[2]; int8_t qs[LLM_QK]; } llm_block_q8x_t;
_Static_assert(sizeof(llm_block_q8x_t) * (LLM_QK_K / LLM_QK) >= sizeof(llm_block_q8_K_t), "Q8_K fits a q8x scratch");

/* Name ("Q8_0") of a ggml type id, "type N" for ids this program does not know. */
const char *llm_type_name(int type);
/* 1 if `type` is one this program computes with. */
int llm_type_supported(int type);
/* Type from its name (case-insensitive), or -1. */
int llm_type_from_name(const char *name);
/* Elements per block and bytes per block of a supported type. */
int llm_type_block(int type);
size_t llm_type_block_bytes(int type);
/* Bytes of n elements (n a multiple of the block), or SIZE_MAX. */
size_t llm_type_bytes(int type, int64_t n);

float llm_fp16_to_fp32(uint16_t h);
uint16_t llm_fp32_to_fp16(float f);
float llm_bf16_to_fp32(uint16_t h);
uint16_t llm_fp32_to_bf16(float f);

/* Convert n elements (a multiple of the block) between float and `type`. Local. */
void llm_quantize_row(int type, const float *x, void *dst, int64_t n);
void llm_dequantize_row(int type, const void *src, float *y, int64_t n);
/* Quantize an activation row (n a multiple of LLM_QK) for the legacy dots. */
void llm_quantize_row_q8x(const float *x, llm_block_q8x_t *dst, int64_t n);
/* ... and n a multiple of LLM_QK_K to Q8_K blocks for the K-quant dots. */
void llm_quantize_row_q8_K(const float *x, llm_block_q8_K_t *dst, int64_t n);

/* The activation form the dots of a weight type take: none (float x), q8x or Q8_K. */
enum { LLM_ACT_F32 = 0, LLM_ACT_Q8X, LLM_ACT_Q8K };
int llm_type_act(int type);
/* Quantize x (n elements) into the scratch `xq` (n / LLM_QK blocks) in the
 * form llm_type_act(type) names; nothing for float forms. Local. */
void llm_quantize_act(int type, const float *x, llm_block_q8x_t *xq, int64_t n);
/* A K-quant or legacy block as integers: element e is
 * d * sc[e / 16] * q[e] - dmin * mn[e / 16] (legacy: 32 elements, d, dmin = -m,
 * sc = 1, mn = 1). Returns the elements of the block. The portable form every
 * kernel is checked against. Local. */
int llm_block_decode(int type, const void *blk, int8_t *q, int16_t *sc, int16_t *mn, float *d, float *dmin);

/* ================================================================ kernels */

/* A local shard of a weight matrix: `rows` rows of `cols` elements, row-major,
 * in `type` (ggml layout: a row is one output unit). */
typedef struct {
    int type;
    int rows, cols;
    size_t row_bytes;
    void *data;        /* rows * row_bytes, or NULL when rows == 0 */
} llm_mat_t;

typedef enum { LLM_ISA_AUTO = 0, LLM_ISA_C, LLM_ISA_AVX2, LLM_ISA_AVX512 } llm_isa_t;
extern const char *const llm_isa_names[]; /* "auto", "c", "avx2", "avx512", NULL */

/* Select the kernels: the best the CPU has for AUTO; CB_ERR_UNSUPPORTED if the
 * CPU lacks the one asked for. Local; call before any product. */
cb_status_t llm_kernels_select(llm_isa_t isa);
const char *llm_kernels_name(void);

/* Dot product of one weight row (n elements of `type`) with x; `xq` is x
 * quantized by llm_quantize_act(type, ...) (unused for the float types). Local. */
float llm_dot_row(int type, const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n);

/* y[0..w->rows) = W x, threads over rows. `xq` is scratch of cols/LLM_QK
 * blocks. Local. */
void llm_matvec(const llm_mat_t *w, const float *x, llm_block_q8x_t *xq, float *y);
/* y[m] = W[m] x for n matrices of the same cols (and, for the quantized
 * types, the same activation quantization), in one parallel region. Local. */
void llm_matvec_n(int n, const llm_mat_t *const *w, const float *x, llm_block_q8x_t *xq, float *const *y);
/* Y (b x w->rows, leading dimension ldy) = X (b x w->cols) W^T: for the
 * quantized types integer GEMM on X quantized per block of 32 (llm_gemm.c);
 * for the float types sgemm on panels of rows converted into per-thread
 * buffers. Local. */
void llm_matmul(const llm_mat_t *w, const float *x, int b, float *y, int ldy);
/* Y[m] (b x w[m]->rows, leading dimension w[m]->rows) = X W[m]^T for n
 * matrices of the same cols: X quantized once and one parallel region when
 * all are quantized types. Local. */
void llm_matmul_n(int n, const llm_mat_t *const *w, const float *x, int b, float *const *y);
/* y[0..n) += a x[0..n). Local. */
void llm_axpy(float a, const float *x, float *y, int64_t n);
/* y[0..n) = the n elements of row (F32, F16, BF16 or any block type, n a
 * multiple of its block) as floats, with the selected kernels (F16C). Local. */
void llm_row_to_float(int type, const void *row, float *y, int64_t n);

/* Causal attention of a batch for the heads of one rank (GQA), tiled over
 * the cached keys with an online softmax (flash-attention style): the
 * output of query token i (position pos + i), head h is
 * softmax(scale q K[0..pos+i]^T) V over the KV head of h. K and V rows are
 * positions of `row_bytes` bytes in `kv_type`, head k at
 * llm_type_bytes(kv_type, k * hd). `scratch` holds llm_attention_scratch()
 * floats per thread. Threads over (KV head, block of tokens). Local. */
typedef struct {
    const float *q;     /* (b, nq * hd) queries, roped */
    float *o;           /* (b, nq * hd) outputs */
    const void *k, *v;  /* (ctx, row_bytes) caches of one layer */
    int kv_type;
    size_t row_bytes;
    int hd, nq, nkv;    /* this rank's heads */
    int h0, kv0, group; /* first global query and KV head; query heads per KV head */
    int pos, b;
    float scale;
    float *scratch;
} llm_attn_t;
size_t llm_attention_scratch(int hd);
void llm_attention(const llm_attn_t *a);
/* Sum of the 64-bit words of buf (n of them, n a multiple of 32, buf
 * 64-byte aligned), read with the widest loads the kernels use and several
 * accumulators, so that memory, not the adds, bounds its speed: the
 * roofline's read bandwidth. Local. */
uint64_t llm_read_sum(const uint64_t *buf, size_t n);
/* The int8 multiply-add rate of this rank's threads, in 10^9 operations per
 * second (2 per multiply-add), with the instruction the selected kernels'
 * integer GEMM uses, on registers only (llm_peak.c): the compute bound of
 * a prompt with quantized weights. Local; takes about 0.1 s. */
double llm_int8_peak_Gops(void);
/* Elements per thread-local panel buffer llm_matmul needs for `cols`. */
size_t llm_matmul_scratch(int cols);
cb_status_t llm_kernels_init_scratch(int max_cols);
void llm_kernels_free_scratch(void);

/* ================================================================ model description */

typedef enum { LLM_ARCH_LLAMA = 0, LLM_ARCH_QWEN2, LLM_ARCH_QWEN3, LLM_ARCH_QWEN3MOE, LLM_ARCH_DEEPSEEK2 } llm_arch_t;
extern const char *const llm_arch_names[]; /* "llama", "qwen2", "qwen3", "qwen3moe", "deepseek2", NULL */

/* ---------------------------------------------------------------- mixture of experts: configuration */

/* Router probabilities (GGUF expert_gating_func's numbering). */
typedef enum { LLM_GATE_SOFTMAX = 1, LLM_GATE_SIGMOID = 2 } llm_gate_t;

/* The MoE FFN of a model (all zero for a dense model). Routing of one token:
 * p = gate(router logits) over all experts; the choice ranks p + sel_bias
 * (exp_probs_b, when sel_bias) among the experts of the best topk_group of
 * n_group groups (a group scored by the sum of its two best, when n_group >
 * 1); the chosen n_used experts are weighted by p (not the bias),
 * renormalised to sum 1 when norm_topk, times weights_scale. Shared experts
 * run on every token beside the routed ones, summed into the same output. */
typedef struct {
    int n_experts;      /* routed experts per MoE layer (0: dense model) */
    int n_used;         /* experts chosen per token (top-k) */
    int expert_ffn;     /* FFN width of one routed expert */
    int n_shared;       /* shared experts (0: none) */
    int shared_ffn;     /* FFN width of all shared experts together (ffn_*_shexp rows) */
    int n_dense_lead;   /* leading layers with a dense FFN (DeepSeek V3: 3), the rest MoE */
    int gate;           /* llm_gate_t */
    int norm_topk;      /* renormalise the chosen weights (Qwen3's norm_topk_prob) */
    float weights_scale;/* factor on the routing weights (1: none) */
    int n_group;        /* expert groups for group-limited routing (0 or 1: off) */
    int topk_group;     /* groups a token may choose from */
    int sel_bias;       /* blk.N.exp_probs_b.bias present: selection bias */
} llm_moe_config_t;

/* RoPE scaling as GGUF files carry it ({arch}.rope.scaling.*, rope_freqs.weight). */
typedef enum { LLM_ROPE_NONE = 0, LLM_ROPE_LINEAR, LLM_ROPE_YARN } llm_rope_kind_t;

typedef struct {
    int kind;           /* llm_rope_kind_t */
    float factor;       /* context extension factor s (frequencies / s when interpolated) */
    int orig_ctx;       /* YaRN: the context the model was trained at before extension */
    float beta_fast;    /* YaRN: rotations where the ramp starts (pure extrapolation above) */
    float beta_slow;    /* YaRN: rotations where it ends (pure interpolation below) */
    float ext_factor;   /* YaRN: weight of the ramp (1: YaRN, 0: plain interpolation) */
    float attn_factor;  /* rope.scaling.attn_factor: multiplies the magnitude of cos and sin */
    float log_mul;      /* YaRN: rope.scaling.yarn_log_multiplier (deepseek2: 0.1 mscale_all_dim) */
    int freq_factors;   /* 1: rope_freqs.weight divides each pair's frequency (Llama 3.1) */
} llm_rope_scaling_t;

/* Multi-head latent attention (deepseek2): the shapes of llm_mla.c. */
typedef struct {
    int kv_lora;        /* kv_lora_rank: width of the cached latent; 0: not MLA */
    int q_lora;         /* q_lora_rank; 0: a plain attn_q (DeepSeek V2 Lite) */
    int nope;           /* per-head query/key dimensions without RoPE (qk_nope_head_dim) */
    int rope;           /* per-head RoPE dimensions; the key's are shared by all heads */
    int v_dim;          /* per-head value dimensions */
    int split_kvb;      /* 1: attn_k_b and attn_v_b (per head); 0: attn_kv_b whole */
} llm_mla_config_t;

typedef struct {
    int arch;           /* llm_arch_t */
    int dim;            /* embedding width */
    int hidden;         /* FFN intermediate width */
    int n_layers;
    int n_heads;        /* query heads */
    int n_kv_heads;     /* key/value heads (GQA: divides n_heads) */
    int head_dim;
    int vocab;
    int ctx;            /* trained context length */
    float rope_theta;
    float norm_eps;
    int rope_neox;      /* 1: rotate halves (Qwen), 0: interleaved pairs (GGUF llama, llama2.c) */
    int qk_norm;        /* Qwen3: RMSNorm of each q and k head */
    int qkv_bias;       /* Qwen2: biases on q, k, v */
    int tied;           /* the output head is token_embd */
    llm_rope_scaling_t rope_scaling; /* none unless the file says so */
    llm_mla_config_t mla;            /* deepseek2: kv_lora > 0, head_dim = nope + rope */
    llm_moe_config_t moe; /* mixture of experts (moe.n_experts == 0: dense) */
} llm_config_t;

/* 1 if layer l's FFN is a mixture of experts. */
static inline int llm_layer_is_moe(const llm_config_t *c, int l)
{
    return c->moe.n_experts > 0 && l >= c->moe.n_dense_lead;
}

#define LLM_NAME_MAX 64 /* GGML_MAX_NAME: tensor names are shorter */

typedef struct {
    char name[LLM_NAME_MAX];
    int type;           /* ggml type id (maybe one we do not support) */
    int n_dims;
    int64_t ne[4];      /* ggml order: ne[0] is the row length */
    uint64_t offset;    /* absolute file offset of the data */
    uint64_t bytes;     /* 0 when the type is unknown */
} llm_tensor_t;

enum { LLM_KV_INT, LLM_KV_FLOAT, LLM_KV_BOOL, LLM_KV_STRING, LLM_KV_ARRAY };

typedef struct {
    char *key;
    int kind;           /* LLM_KV_* */
    int gguf_type;      /* GGUF value type (element type for arrays) */
    int64_t i;          /* INT, BOOL */
    double f;           /* FLOAT */
    char *s;            /* STRING (NUL-terminated copy) */
    uint64_t n;         /* ARRAY: element count */
    uint64_t off;       /* file offset of the value: a STRING's length, an ARRAY's first element */
} llm_kv_t;

typedef enum { LLM_FMT_GGUF = 0, LLM_FMT_LLAMA2C, LLM_FMT_SYNTHETIC } llm_format_t;

/* A hash index of names (metadata keys or tensor names) to their array
 * positions: open addressing, at most half full, so lookups and the parser's
 * duplicate checks stay linear in the file's size (a file of a million keys is
 * read, or refused, in about a second). */
typedef struct {
    int *slot;          /* (mask + 1) positions + 1, 0 for an empty slot; NULL: no index */
    uint32_t mask;
    int n;              /* names indexed: positions [0, n); later ones are searched linearly */
} llm_name_index_t;

typedef struct {
    int format;                  /* llm_format_t */
    char source[512];            /* file path or shape description */
    uint64_t file_size;
    int version;                 /* GGUF version */
    llm_kv_t *kv; int n_kv;      /* GGUF metadata */
    llm_tensor_t *tensors; int n_tensors;
    uint64_t seed;               /* SYNTHETIC: weights seed */
    llm_config_t cfg;            /* filled by llm_desc_config */
    llm_name_index_t kv_index, tensor_index; /* GGUF: built while parsing */
} llm_desc_t;

/* Parse a GGUF file image (buf[0..len), len == the file size). Checks every
 * count, length and offset against len; CB_ERR_INPUT with a held error on a
 * malformed file. Local. Free with llm_desc_free. */
cb_status_t llm_gguf_parse(const uint8_t *buf, size_t len, llm_desc_t *desc);
/* Parse a llama2.c checkpoint image (only its header is read; the size must
 * match). Local. */
cb_status_t llm_l2c_parse(const uint8_t *buf, size_t len, llm_desc_t *desc);
/* Open a model file (GGUF by its magic, else llama2.c) and parse it. Local. */
cb_status_t llm_desc_open(const char *path, llm_desc_t *desc);
/* Derive and check desc->cfg from metadata and tensors: architecture,
 * dimensions, every tensor present with its shape and a supported type. Local. */
cb_status_t llm_desc_config(llm_desc_t *desc);
void llm_desc_free(llm_desc_t *desc);
/* Room in `ix` for `n` names; CB_ERR_NOMEM with a held error. Local. */
cb_status_t llm_name_index_init(llm_name_index_t *ix, int n);
/* Add desc's metadata key (tensors: tensor name) at position i = ix->n:
 * 0, or 1 when the name is already there (a duplicate; not added). Local. */
int llm_desc_index_kv(llm_desc_t *desc, int i);
int llm_desc_index_tensor(llm_desc_t *desc, int i);
int llm_desc_find(const llm_desc_t *desc, const char *name);
const llm_kv_t *llm_desc_kv(const llm_desc_t *desc, const char *key);
/* Read rows [r0, r0+nr) x elements [c0, c0+nc) of tensor t into dst (row
 * pitch: the bytes of nc elements), from the file or the generator. Local. */
cb_status_t llm_desc_read(const llm_desc_t *desc, int t, int64_t r0, int64_t nr,
                          int64_t c0, int64_t nc, void *dst);

/* Synthetic models: `shape` is a preset name or "ARCH:key=value,..."; every
 * 2-D weight in `type`; n_layers > 0 cuts the depth. Local. */
cb_status_t llm_shape_desc(const char *shape, int type, int n_layers, uint64_t seed, llm_desc_t *desc);
void llm_shape_list(void *out /* FILE* */);
/* The generator's values for rows [r0,r0+nr) x [c0,c0+nc) of tensor t, as floats. */
void llm_shape_values(const llm_desc_t *desc, int t, int64_t r0, int64_t nr,
                      int64_t c0, int64_t nc, float *dst);

/* ================================================================ sharding */

/* Which part of the model one rank holds (Megatron split). */
typedef struct {
    int rank, np;
    int h0, h1;     /* query heads [h0, h1) */
    int kv0, kv1;   /* KV heads this rank computes (replicated when np > n_kv_heads) */
    int f0, f1;     /* FFN intermediate units [f0, f1) (block-aligned) */
    int v0, v1;     /* vocabulary rows [v0, v1) of token_embd and output */
    int block;      /* elements per block of the column-split tensors */
    int head_group; /* heads split in groups of this many (head_group * head_dim: whole blocks) */
    int resplit;    /* bits: 1 heads, 2 FFN units were re-split on block boundaries (an even split cuts a block);
                       4 attn_output is held whole (no split on block boundaries exists) */
    int wo_whole;   /* attn_output whole on every rank: (dim, n_heads * head_dim), fed zeros outside h0..h1 */
    int s0, s1;     /* shared-expert FFN units [s0, s1) (block-aligned) */
    struct llm_expert_plan *ep; /* routed experts this rank holds, NULL for a dense model */
    int pipe;       /* 1: layer split (a pipeline): the rank holds layers [l0, l1) whole, heads, FFN
                       units and experts all of them; rank 0 the embedding, the last rank the output */
    int l0, l1;     /* layers [l0, l1) this rank computes (all of them under the tensor split) */
} llm_shard_t;

/* ---------------------------------------------------------------- sharding: uneven hosts, experts */

/* Which experts go to which rank (when np <= n_experts each rank holds whole
 * experts; beyond, every expert's FFN is split across ranks). SPLIT splits
 * every expert's FFN across all ranks at any np (tensor parallelism inside
 * experts): every rank computes a share of every routed expert, so the
 * ranks' work per token is equal whatever the routing. */
typedef enum { LLM_PLACE_CONTIGUOUS = 0, LLM_PLACE_ROUND_ROBIN, LLM_PLACE_BALANCED, LLM_PLACE_SPLIT } llm_placement_t;
extern const char *const llm_placement_names[]; /* "contiguous", "round-robin", "balanced", "split", NULL */

/* How the model is split: np ranks with shares weight[0..np) of heads, FFN
 * units, experts and vocabulary (NULL: even), experts placed by
 * `placement`; BALANCED needs profile, the routed tokens per (layer,
 * expert), (n_layers * n_experts) counts. */
typedef struct {
    int np;
    const double *weight;
    int placement;          /* llm_placement_t */
    const int64_t *profile;
    int layers;             /* 1: layer split (contiguous layers in proportion to weight), 0: tensor split */
} llm_split_t;

/* --split: tensor parallelism (every layer over every rank) or a layer split. */
typedef enum { LLM_SPLIT_TENSOR = 0, LLM_SPLIT_LAYERS } llm_split_kind_t;
extern const char *const llm_split_names[]; /* "tensor", "layers", NULL */

/* Under a layer split, 1 if the rank of sh holds token_embd (rank 0 embeds;
 * the last rank too when the output is tied to it) / the output head (the
 * last rank). Always 1 under the tensor split (each its vocabulary rows). */
int llm_shard_holds_embd(const llm_shard_t *sh, int tied);
int llm_shard_holds_output(const llm_shard_t *sh);

/* One rank's piece of a routed expert: FFN units [f0, f1) of expert e. */
typedef struct { int e, f0, f1; } llm_expert_piece_t;

typedef struct llm_expert_plan {
    int n_layers, n_experts;
    int *n_pieces;          /* (n_layers) pieces this rank holds in layer l */
    llm_expert_piece_t **pieces; /* (n_layers) arrays of n_pieces[l], by expert id */
    int *local;             /* (n_layers * n_experts): index into pieces[l] of expert e, or -1 */
} llm_expert_plan_t;

/* The plan of `rank` for an even split over np ranks, contiguous experts;
 * CB_ERR_UNSUPPORTED (held error) when the model cannot be split so. Local,
 * deterministic. Free with llm_shard_free. */
cb_status_t llm_shard_plan(const llm_desc_t *desc, int rank, int np, llm_shard_t *sh);
/* The same for any split (uneven shares, expert placement). Local,
 * deterministic: every rank computes every rank's plan alike. */
cb_status_t llm_shard_plan_split(const llm_desc_t *desc, int rank, const llm_split_t *split, llm_shard_t *sh);
void llm_shard_free(llm_shard_t *sh);
/* A deep copy of sh (its expert plan). Local. */
cb_status_t llm_shard_copy(const llm_shard_t *sh, llm_shard_t *dst);
/* Parse --shard-weights "W0,W1,..." (np positive numbers) into weight[np].
 * "auto" is resolved by the caller (llm_model_setup: each rank's free memory). Local. */
cb_status_t llm_shard_parse_weights(const char *text, int np, double *weight);
/* Read a routing profile written by llm_moe_profile_write (n_layers x
 * n_experts counts) for BALANCED placement. Local. */
cb_status_t llm_moe_profile_read(const char *path, int n_layers, int n_experts, int64_t *counts);
/* Bytes of weights, and of KV cache for `ctx` positions and activations for
 * `batch` tokens, that the rank of `sh` needs. Local. */
size_t llm_shard_weight_bytes(const llm_desc_t *desc, const llm_shard_t *sh);
size_t llm_shard_run_bytes(const llm_config_t *cfg, const llm_shard_t *sh, int ctx, int batch);
/* The same with the KV cache in `kv_type` (F32, F16, Q8_0; llm_shard_run_bytes
 * assumes the default, F16), and the KV cache's bytes alone. Local. */
size_t llm_shard_run_bytes_kv(const llm_config_t *cfg, const llm_shard_t *sh, int ctx, int batch, int kv_type);
size_t llm_shard_kv_bytes(const llm_config_t *cfg, const llm_shard_t *sh, int ctx, int kv_type);

typedef struct {
    float *attn_norm;   /* (dim) */
    float *ffn_norm;    /* (dim) */
    float *q_norm;      /* (head_dim) Qwen3, else NULL */
    float *k_norm;      /* (head_dim) Qwen3, else NULL */
    float *bq;          /* (nq_loc * head_dim) Qwen2 bias rows of this rank, else NULL */
    float *bk, *bv;     /* (nkv_loc * head_dim) */
    llm_mat_t wq;       /* (nq_loc * head_dim, dim): rows of this rank's heads */
    llm_mat_t wk, wv;   /* (nkv_loc * head_dim, dim) */
    llm_mat_t wo;       /* (dim, nq_loc * head_dim): this rank's columns (all of them if sh.wo_whole) */
    llm_mat_t wg, wu;   /* (hid_loc, dim): gate and up rows */
    llm_mat_t wd;       /* (dim, hid_loc): down columns */
    struct llm_mla_layer *mla; /* deepseek2: the latent attention's weights (llm_mla.c), else NULL */
    struct llm_moe_layer *moe; /* the MoE FFN of the layer instead of wg, wu, wd; NULL: dense */
} llm_layer_t;

typedef struct {
    llm_config_t cfg;
    llm_shard_t sh;
    llm_mat_t tok;      /* (voc_loc, dim): rows [v0, v1) of token_embd */
    llm_mat_t out;      /* (voc_loc, dim): output rows; shares tok's data when tied */
    float *out_norm;    /* (dim) */
    float *rope_freqs;  /* (rope dims / 2) rope_freqs.weight (Llama 3.1), else NULL */
    llm_layer_t *layers;/* (n_layers) */
    size_t bytes;       /* weight bytes held by this rank */
} llm_weights_t;

/* Load this rank's shard. Local (every rank reads only its own rows). */
cb_status_t llm_weights_load(const llm_desc_t *desc, const llm_shard_t *sh, llm_weights_t **w_p);
void llm_weights_free(llm_weights_t *w);

/* ================================================================ communication */

typedef enum { LLM_AR_MPI = 0, LLM_AR_RD, LLM_AR_UCX, LLM_AR_ONESHOT, LLM_AR_TWOSHOT, LLM_AR_AM, LLM_AR_AUTO } llm_ar_t;
extern const char *const llm_ar_names[]; /* "mpi", "rd", "ucx", "oneshot", "twoshot", "am", "auto", NULL */

typedef struct llm_comm llm_comm_t;

/* Sum-allreduce over `comm` with algorithm `algo`; `small_count` is the
 * decode message (floats) the alternative algorithms keep persistent buffers
 * for, `large_count` the largest (a prompt batch) UCX registers at once (a
 * larger one re-registers). Collective over comm; agrees. */
cb_status_t llm_comm_create(MPI_Comm comm, int algo, int small_count, int large_count, llm_comm_t **comm_p);
/* In-place sum of buf[0..count) over the ranks; every rank gets the same bits.
 * Collective; count must match. */
cb_status_t llm_comm_allreduce(llm_comm_t *c, float *buf, int count);
/* The layer split's hand-over: buf[0..count) to rank `dest` / from rank
 * `src` of the communicator (blocking MPI point-to-point), counted in the
 * time, calls and bytes below like an allreduce. Point-to-point: the pair
 * must agree on count. */
cb_status_t llm_comm_send(llm_comm_t *c, const float *buf, int count, int dest);
/* Complete req without holding a core: a few MPI_Test polls, then polls 20 us
 * apart. The layer split's ranks wait for their turn most of a token; spinning
 * would take the cores a computing rank on the same machine needs (an emulated
 * or oversubscribed cluster), at the cost of up to a sleep's wake-up per hand-over.
 * Local (the request's own contract). */
cb_status_t llm_comm_wait_idle(MPI_Request *req);
cb_status_t llm_comm_recv(llm_comm_t *c, float *buf, int count, int src);
double llm_comm_seconds(const llm_comm_t *c); /* time spent in allreduce (and hand-overs) so far */
void llm_comm_reset_time(llm_comm_t *c);          /* and the counts below */
long long llm_comm_calls(const llm_comm_t *c);   /* allreduces since the reset */
cb_status_t llm_comm_xfer_seconds(llm_comm_t *c, double *sec_p); /* collective: allreduce time since the reset counted from the last rank's arrival (mean over ranks; -1 if not kept) */
double llm_comm_bytes(const llm_comm_t *c);      /* bytes they reduced */
const char *llm_comm_describe(const llm_comm_t *c); /* algorithm, transport, auto's choices */
MPI_Comm llm_comm_mpi(const llm_comm_t *c);
void llm_comm_free(llm_comm_t *c);

/* ================================================================ forward pass */

typedef struct llm_run llm_run_t;

/* Run state for `ctx` positions and batches of up to `batch` tokens, the KV
 * cache in F16. Collective over the communicator of `comm` (gathers the
 * vocabulary split). */
cb_status_t llm_run_create(const llm_weights_t *w, llm_comm_t *comm, int ctx, int batch, llm_run_t **run_p);
/* The same with the KV cache in `kv_type`: LLM_F32, LLM_F16 or LLM_Q8_0
 * (head_dim a multiple of 32). Collective likewise. */
cb_status_t llm_run_create_kv(const llm_weights_t *w, llm_comm_t *comm, int ctx, int batch, int kv_type, llm_run_t **run_p);
void llm_run_free(llm_run_t *run);
int llm_run_ctx(const llm_run_t *run);

/* Feed tokens[0..n) at positions pos..pos+n-1 (in batches); afterwards the
 * rank's shard of the last position's logits is ready. Collective: same
 * tokens, n and pos on every rank. */
cb_status_t llm_forward(llm_run_t *run, const int *tokens, int n, int pos);
/* Greedy next token: argmax over the whole vocabulary (lowest id on ties),
 * the same on every rank. Collective. */
cb_status_t llm_argmax(llm_run_t *run, int *token_p);
/* Gather the full logits to rank 0 (`logits` of vocab floats there; may be
 * NULL elsewhere). Collective. */
cb_status_t llm_logits_gather(llm_run_t *run, float *logits);

/* ================================================================ RoPE scaling (llm_rope.c) */

/* Read {arch}.rope.scaling.* and rope_freqs.weight's presence into rs; a
 * scaling this program does not compute (longrope, ...) is CB_ERR_UNSUPPORTED
 * with one line, never ignored. Local. */
cb_status_t llm_rope_scaling_read(const llm_desc_t *desc, const char *arch, llm_rope_scaling_t *rs);
/* Each pair's frequency (radians per position) of an n_dims-wide RoPE, with
 * c's scaling (freq_factors: rope_freqs.weight or NULL), and the magnitude of
 * cos and sin. Local. */
void llm_rope_freqs(const llm_config_t *c, int n_dims, const float *freq_factors, double *inv_freq, float *mscale_p);
/* The softmax scale of attention logits over key_dims (1/sqrt(key_dims),
 * with deepseek2's YaRN mscale squared). Local. */
float llm_rope_attn_scale(const llm_config_t *c, int key_dims);
/* "yarn x40 from 4096 (...)", for inspect. */
const char *llm_rope_describe(const llm_config_t *c, char *buf, size_t n);

/* ================================================================ multi-head latent attention (llm_mla.c) */

/* The loader's helpers MLA shares: metadata "ARCH.KEY" with a default
 * (def < 0: required) and range, one line on error; a 2-D tensor's presence,
 * shape and type. Local. */
int llm_desc_kv_int(const llm_desc_t *desc, const char *arch, const char *key, int64_t def, int64_t min, int64_t max, int64_t *v);
int llm_desc_kv_float(const llm_desc_t *desc, const char *arch, const char *key, double def, double min, double max, float *v);
cb_status_t llm_desc_check_tensor(const llm_desc_t *desc, const char *name, int64_t cols, int64_t rows, int matrix);
/* The MoE keys into c->moe (c's layers and dense FFN width set), and layer l's
 * MoE tensors. Local. */
cb_status_t llm_desc_moe_config(const llm_desc_t *desc, const char *arch, llm_config_t *c);
cb_status_t llm_desc_check_moe(const llm_desc_t *desc, int l);
/* This rank's part of a matrix or vector tensor (llm_shard.c's split). Local. */
cb_status_t llm_shard_load_mat(const llm_desc_t *desc, const llm_shard_t *sh, const char *name, llm_mat_t *m, size_t *bytes);
cb_status_t llm_shard_load_vec(const llm_desc_t *desc, const llm_shard_t *sh, const char *name, float **v, size_t *bytes);

typedef struct llm_mla_layer llm_mla_layer_t;
typedef struct llm_mla_run llm_mla_run_t;

/* deepseek2's configuration from GGUF metadata (after the architecture is
 * known), and the check of its tensors. Local. */
cb_status_t llm_mla_config_read(llm_desc_t *desc, const char *arch);
cb_status_t llm_mla_check(const llm_desc_t *desc);
/* Load layer l's attention weights for the shard (attn_kv_b is split into
 * k_b, transposed, and v_b here, so that both file forms run the absorbed
 * path). Local. */
cb_status_t llm_mla_layer_load(const llm_desc_t *desc, const llm_shard_t *sh, int l, llm_mla_layer_t **m_p, size_t *bytes);
void llm_mla_layer_free(llm_mla_layer_t *m);
/* Bytes of latent cache per token (all layers; the same on every rank: it is
 * replicated) and of the rank's whole MLA run state. Local. */
size_t llm_mla_cache_bytes_per_token(const llm_config_t *c);
size_t llm_mla_run_bytes(const llm_config_t *c, const llm_shard_t *sh, int ctx, int batch);
/* Largest matrix width the MLA products use (for the kernels' scratch). */
int llm_mla_max_cols(const llm_config_t *c, const llm_shard_t *sh);
cb_status_t llm_mla_run_create(const llm_weights_t *w, int ctx, int batch, llm_mla_run_t **m_p);
void llm_mla_run_free(llm_mla_run_t *m);
/* Layer l's attention for b tokens at positions pos..pos+b-1: xb (b, dim) the
 * normalised input, part (b, dim) this rank's heads' share of the output
 * projection (the caller sums it over ranks). Writes the tokens' latents into
 * the cache. Local: every rank the same xb, b, pos. */
void llm_mla_attend(llm_mla_run_t *m, const llm_weights_t *w, int l, const float *xb, int b, int pos, float *part);

/* ================================================================ sampling */

typedef struct {
    float temperature;   /* 0: greedy */
    float top_p;         /* 1: off */
    uint64_t state;      /* xorshift state, from the seed */
} llm_sampler_t;

void llm_sampler_init(llm_sampler_t *s, float temperature, float top_p, uint64_t seed);
/* Choose a token from logits[0..n) (modified: softmax in place). Local. */
int llm_sample(llm_sampler_t *s, float *logits, int n, int *scratch_idx);

/* ================================================================ subcommands */

/* Each parses its own options and returns the status main agrees on.
 * Collective over MPI_COMM_WORLD. */
cb_status_t llm_cmd_generate(int argc, char **argv);
cb_status_t llm_cmd_inspect(int argc, char **argv);
cb_status_t llm_cmd_bench(int argc, char **argv);

/* Shared by the subcommands: the model options. */
typedef struct {
    const char *model;    /* -m FILE */
    const char *shape;    /* --shape NAME */
    int type;             /* --type index into llm_type_choices */
    int layers;           /* --layers N (0: all) */
    long long seed;       /* --weights-seed */
    int ctx;              /* --ctx N */
    int isa;              /* --isa */
    int allreduce;        /* --allreduce */
    const char *shard_weights; /* --shard-weights W0,W1,..|auto (NULL: even) */
    int placement;        /* --expert-placement (llm_placement_t) */
    const char *routing_profile; /* --routing-profile FILE, for balanced placement */
    const char *dump_routing; /* --dump-routing FILE: every routing decision, per rank */
    int kv_type;          /* --kv-type index into llm_kv_type_choices */
    int split;            /* --split: llm_split_kind_t */
    int wait;             /* --wait: llm_wait_t, how the thread team waits between steps */
} llm_model_opts_t;

extern const char *const llm_type_choices[]; /* "f32", "f16", "bf16", "q8_0", "q4_0", ... "q6_k", NULL */
extern const int llm_type_choice_ids[];

extern const char *const llm_kv_type_choices[]; /* "f16", "f32", "q8_0", NULL */
extern const int llm_kv_type_ids[];

#define LLM_MODEL_OPTS_DEFAULT { NULL, NULL, 0, 0, 1, 0, 0, 0, NULL, 0, NULL, NULL, 0, 0, 0 }
/* The model options every subcommand takes, as rows of its cb_opt_t table
 * (a macro because a table is a static initializer). */
#define LLM_MODEL_OPTS(mo) \
    { "model", 'm', CB_OPT_STRING, &(mo).model, "FILE", "GGUF file or llama2.c checkpoint", 0, -1, NULL }, \
    { "shape", 0, CB_OPT_STRING, &(mo).shape, "NAME", "synthetic model: a preset (--list-shapes) or ARCH:dim=..,ffn=..,layers=..,heads=..,kv=..,head_dim=..,vocab=..", 0, -1, NULL }, \
    { "type", 0, CB_OPT_CHOICE, &(mo).type, "TYPE", "weight type of a synthetic model", 0, -1, llm_type_choices }, \
    { "layers", 0, CB_OPT_INT, &(mo).layers, "N", "keep the first N layers of a synthetic model (0: all)", 0, 1024, NULL }, \
    { "weights-seed", 0, CB_OPT_INT64, &(mo).seed, "N", "seed of a synthetic model's weights", 0, 9e18, NULL }, \
    { "ctx", 'c', CB_OPT_INT, &(mo).ctx, "N", "context (KV cache) length, at most the model's (0: the model's, at most 4096)", 0, 1 << 24, NULL }, \
    { "kv-type", 0, CB_OPT_CHOICE, &(mo).kv_type, "TYPE", "KV cache type: f16, f32, q8_0", 0, -1, llm_kv_type_choices }, \
    { "isa", 0, CB_OPT_CHOICE, &(mo).isa, "ISA", "kernels: auto, c, avx2, avx512", 0, -1, llm_isa_names }, \
    { "wait", 0, CB_OPT_CHOICE, &(mo).wait, "HOW", "how idle threads wait: active (spin 50 us, then sleep), passive (sleep at once), auto (passive when this host's ranks x threads exceed its cores; env LLM_WAIT)", 0, -1, llm_wait_names }, \
    { "allreduce", 0, CB_OPT_CHOICE, &(mo).allreduce, "ALG", "allreduce: mpi (MPI_Allreduce), rd (recursive doubling, persistent), over UCX: oneshot, twoshot, am (oneshot by active messages), ucx (picks by size and transport), auto (MPI or UCX, timed at start-up)", 0, -1, llm_ar_names }, \
    { "split", 0, CB_OPT_CHOICE, &(mo).split, "HOW", "tensor (every layer over all ranks, two allreduces a layer) or layers (each rank a contiguous range of layers, activations passed on rank to rank)", 0, -1, llm_split_names }, \
    { "shard-weights", 0, CB_OPT_STRING, &(mo).shard_weights, "W0,W1,..", "uneven hosts: rank i gets a share Wi of heads, FFN units, experts and vocabulary (--split layers: of the layers), or 'auto' (free memory)", 0, -1, NULL }, \
    { "expert-placement", 0, CB_OPT_CHOICE, &(mo).placement, "HOW", "experts to ranks: contiguous, round-robin, balanced (by --routing-profile), split (every expert across all ranks)", 0, -1, llm_placement_names }, \
    { "routing-profile", 0, CB_OPT_STRING, &(mo).routing_profile, "FILE", "routed tokens per layer and expert (written by llm bench --save-routing) for balanced placement", 0, -1, NULL }, \
    { "dump-routing", 0, CB_OPT_STRING, &(mo).dump_routing, "FILE", "write every MoE routing (layer, experts, exact weights) to FILE on rank 0, FILE.N on rank N", 0, -1, NULL }

/* Open (file) or make (shape) the description, configured. Local. */
cb_status_t llm_model_describe(const llm_model_opts_t *mo, llm_desc_t *desc);
/* The split the options ask for over np ranks: --shard-weights (numbers,
 * or auto: each rank's share of its host's free memory, gathered; np must
 * be the run's), --expert-placement and its --routing-profile. Collective
 * over MPI_COMM_WORLD (auto gathers). Free with llm_model_split_free. */
cb_status_t llm_model_split(const llm_model_opts_t *mo, const llm_desc_t *desc, int np, int local_size, llm_split_t *sp);
void llm_model_split_free(llm_split_t *sp);
/* Describe, plan, check memory, load and build the run state, agreeing at
 * each step. Collective over MPI_COMM_WORLD. */
cb_status_t llm_model_setup(const llm_model_opts_t *mo, int batch, llm_desc_t *desc,
                            llm_weights_t **w_p, llm_comm_t **comm_p, llm_run_t **run_p);
/* Parse "1,2,3" or "1 2 3" into tokens (each < vocab). Local. */
cb_status_t llm_parse_tokens(const char *text, int vocab, int **tokens_p, int *n_p);

#endif
