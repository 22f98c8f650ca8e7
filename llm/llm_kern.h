/* Private to the kernel files (llm_kernels.c, llm_kquant.c, llm_gemm.c): the
 * shape of a dot-product kernel, the per-ISA tables of the K-quant and
 * legacy-type kernels that llm_kernels.c merges into its dispatch, and the
 * quantized matrix-matrix product. */
#ifndef LLM_KERN_H
#define LLM_KERN_H

#include "llm.h"

#if defined(HAVE_IMMINTRIN_H) && (defined(__x86_64__) || defined(__i386__))
#define LLM_X86 1
#endif

/* Dot product of a weight row of n elements with x, or with xq: x quantized
 * as llm_quantize_act gives it for the row's type. */
typedef float (*llm_dot_fn)(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n);

typedef struct {
    int type;        /* ggml type id; -1 ends a table */
    llm_dot_fn dot;
} llm_dot_entry_t;

/* Rows for Q4_1, Q5_0, Q5_1 and the K-quants, per instruction set. */
extern const llm_dot_entry_t llm_kquant_c[];
#ifdef LLM_X86
extern const llm_dot_entry_t llm_kquant_avx2[];
extern const llm_dot_entry_t llm_kquant_avx512[];
#endif

/* Dots of nr consecutive weight rows (nr <= LLM_ROWS_MAX unless the entry's nr is 0) (row_bytes apart, n
 * elements each) with xq, into y[0..nr): the decode matvec's kernel where a
 * type has one. A row's float is the same whatever nr it is computed in. */
#define LLM_ROWS_MAX 4
typedef void (*llm_rows_fn)(const void *rows, size_t row_bytes, int nr, const llm_block_q8x_t *xq, int64_t n, float *y);

typedef struct {
    int type;        /* ggml type id; -1 ends a table */
    llm_rows_fn rows;
    int nr;          /* rows per call the kernel is made for (<= LLM_ROWS_MAX; 0: any number, a thread's all) */
} llm_rows_entry_t;

/* How far ahead of the block being read (bytes) the several-row kernels
 * prefetch the weight rows into L1 (0: not at all). One decode thread reading
 * its rows in order left the hardware prefetcher well short of the memory's
 * bandwidth on this machine: a Q4_K matvec of 460 MB streamed at 10.4 GB/s
 * with 2 threads without, 13 to 17 GB/s with 4 KiB ahead (a loaded machine;
 * 1 KiB to 16 KiB all helped). Set from LLM_DOTROWS_PF by the selection. */
#define LLM_ROWS_PREFETCH 4096
extern int llm_rows_prefetch;

/* The decode matvec's work, in bytes of weights, per chunk that its threads
 * take in turn (0: one contiguous share per thread, as even in bytes as
 * whole rows allow). Set from LLM_MATVEC_CHUNK by the selection. Q4_K_M
 * decode at 1 rank x 2 threads, 3 alternating runs each on a machine with
 * others' load (medians): one share 38.95 t/s, 64 KiB 39.46, 256 KiB 40.31,
 * 1 MiB 38.98. */
#define LLM_MATVEC_CHUNK 262144
extern size_t llm_matvec_chunk;

#ifdef LLM_X86
extern const llm_rows_entry_t llm_dotrows_avx512[]; /* Q8_0, Q4_0 (llm_dotrows.c) */
extern const llm_rows_entry_t llm_kquant_rows_avx512[]; /* the K-quants (llm_kquant.c) */
#endif

/* llm_quantize_row_q8x, llm_quantize_row_q8_K and llm_quantize_act on the
 * selected instruction set: the same bytes as the portable ones (the SIMD
 * forms are in llm_kquant.c). Local. */
void llm_kernels_quantize_q8x(const float *x, llm_block_q8x_t *b, int64_t n);
void llm_kernels_quantize_q8_K(const float *x, llm_block_q8_K_t *b, int64_t n);
void llm_kernels_quantize_act(int type, const float *x, llm_block_q8x_t *xq, int64_t n);
#ifdef LLM_X86
void llm_quantize_q8x_avx2(const float *x, llm_block_q8x_t *b, int64_t n);
void llm_quantize_q8_K_avx2(const float *x, llm_block_q8_K_t *b, int64_t n);
void llm_quantize_q8x_avx512(const float *x, llm_block_q8x_t *b, int64_t n);
void llm_quantize_q8_K_avx512(const float *x, llm_block_q8_K_t *b, int64_t n);
#endif

/* The AVX-512 attention of a prompt: 1 puts 16 query rows side by side in
 * the lanes, 0 takes one row at a time as a decoded token does (to compare,
 * and for the tests); -1, the start: LLM_ATT_LANES from the environment at
 * the first call (default 1). */
extern int llm_attention_lanes;

/* A block's elements as unsigned levels: element e = ws[e / 16] * u[e] +
 * wc[e / 16] (the GEMM's weight panels). Local. */
void llm_block_levels_c(int type, const void *blk, uint8_t *u, float *ws, float *wc);
#ifdef LLM_X86
void llm_block_levels_avx2(int type, const void *blk, uint8_t *u, float *ws, float *wc);
#endif
/* 16 for the types whose scales change every 16 elements, else 32. */
int llm_type_subblock(int type);
/* The selected instruction set (never LLM_ISA_AUTO). */
llm_isa_t llm_kernels_isa(void);

/* Y (b x w->rows, leading dimension ldy) = X W^T for a quantized w: X
 * quantized once per row in blocks of 32, W's rows unpacked panel by panel
 * into integer levels, integer dot products in register tiles, threads over
 * panels (llm_gemm.c). Local. */
void llm_gemm_q(const llm_mat_t *w, const float *x, int b, float *y, int ldy);
/* The same for n <= 16 matrices of the same cols (y[m] with leading dimension ldy[m]). */
void llm_gemm_q_n(int n, const llm_mat_t *const *w, const float *x, int b, float *const *y, const int *ldy);
void llm_gemm_free(void);
/* 1 if the GEMM runs on the AMX tile unit (AVX-512 selected, the CPU and
 * kernel allow it, LLM_GEMM_AMX=0 not set); llm_gemm_set_amx(0) turns it
 * off and (1) back on where available (for tests), returning llm_gemm_amx(). */
int llm_gemm_amx(void);
int llm_gemm_set_amx(int on);

#endif
