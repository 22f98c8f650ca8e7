/* llm: text in, text out. Unicode classes, the tokenizers read from GGUF
 * metadata (SentencePiece-style and byte-level BPE with its pre-tokenizer
 * splits), streaming UTF-8 output, and the chat templates. Everything here
 * is local: no MPI. */
#ifndef LLM_TOK_H
#define LLM_TOK_H

#include <stddef.h>
#include <stdint.h>
#include "llm.h"

/* ================================================================ Unicode */

/* General category classes (the first letter of the category). */
typedef enum {
    LLM_UCAT_C = 0, /* other: control, format, unassigned, surrogate, private use */
    LLM_UCAT_L,     /* letter */
    LLM_UCAT_M,     /* mark */
    LLM_UCAT_N,     /* number */
    LLM_UCAT_P,     /* punctuation */
    LLM_UCAT_S,     /* symbol */
    LLM_UCAT_Z,     /* separator */
} llm_ucat_t;

extern const char llm_unicode_version[];
extern const int llm_ucat_n_ranges;
extern const uint32_t llm_ucat_ranges[]; /* (first code point << 3) | class, sorted */

/* Class of a code point (C beyond U+10FFFF). */
int llm_ucat(uint32_t cp);
/* 1 if cp has the Unicode White_Space property. */
int llm_uspace(uint32_t cp);
/* Decode the character at s[0..n) (n >= 1): its length, 1 to 4, with *cp;
 * a byte that does not start a valid, complete, shortest-form character is
 * one "character" of length 1 with *cp = 0xFFFD. */
int llm_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Encode cp (< 0x110000) into out; returns its length 1..4. */
int llm_utf8_encode(uint32_t cp, char *out);

/* NFC tables (generated, llm_unicode_tab.c). */
extern const uint32_t llm_ccc[];        /* (cp << 8) | canonical combining class, sorted */
extern const int llm_ccc_n;
extern const uint32_t llm_decomp_cp[];  /* code points with a canonical decomposition, sorted */
extern const uint32_t llm_decomp_off[]; /* (offset into the pool << 3) | length */
extern const uint32_t llm_decomp_pool[];
extern const int llm_decomp_n;
extern const uint64_t llm_comp_pair[];  /* (first << 21) | second, sorted */
extern const uint32_t llm_comp_cp[];    /* the primary composite of each pair */
extern const int llm_comp_n;

/* Canonical combining class of cp (0 for starters). */
int llm_ccc_of(uint32_t cp);
/* Unicode Normalization Form C of s[0..n) into *out_p (malloc'ed, *on_p
 * bytes). Bytes that are not valid UTF-8 are kept as they are and end the
 * run normalized before them. CB_ERR_NOMEM on failure (held error). */
cb_status_t llm_nfc(const char *s, size_t n, char **out_p, size_t *on_p);

/* Streaming UTF-8 output: bytes go in as tokens are decoded, whole
 * characters come out, never half of one; a byte that cannot belong to a
 * valid character comes out as U+FFFD. */
typedef struct {
    unsigned char pend[4];
    int n;
} llm_utf8_stream_t;

/* Feed in[0..n); writes at most 3 * (n + 4) bytes to out and returns how
 * many. With in == NULL flushes what is pending (as U+FFFD). */
size_t llm_utf8_stream(llm_utf8_stream_t *s, const char *in, size_t n, char *out);

/* ================================================================ tokenizers */

/* GGUF tokenizer.ggml.token_type values. */
enum { LLM_TT_NORMAL = 1, LLM_TT_UNKNOWN = 2, LLM_TT_CONTROL = 3, LLM_TT_USER = 4,
       LLM_TT_UNUSED = 5, LLM_TT_BYTE = 6 };

typedef enum { LLM_TOK_SPM = 0, LLM_TOK_BPE } llm_tok_kind_t;
/* The pre-tokenizer splits of byte-level BPE. */
typedef enum { LLM_PRE_GPT2 = 0, LLM_PRE_LLAMA3, LLM_PRE_QWEN2, LLM_PRE_DEEPSEEK3 } llm_pre_t;
extern const char *const llm_pre_names[]; /* "gpt2", "llama3", "qwen2", "deepseek-v3", NULL */

typedef struct llm_tok llm_tok_t;

/* Read the tokenizer of a GGUF image (buf[0..len), already parsed into
 * desc by llm_gguf_parse). CB_ERR_INPUT with a held one-line
 * error on bad tokenizer data, CB_ERR_UNSUPPORTED for a tokenizer model or
 * pre-tokenizer this program does not know, CB_ERR_USAGE (held error)
 * when the file has no tokenizer. Linear in the data; every index checked. Local. */
cb_status_t llm_tok_parse(const uint8_t *buf, size_t len, const llm_desc_t *desc, llm_tok_t **tok_p);
/* The same from the model file of a described GGUF model; a llama2.c
 * checkpoint or a synthetic model has none (CB_ERR_USAGE). Local. */
cb_status_t llm_tok_load(const llm_desc_t *desc, llm_tok_t **tok_p);
/* The tokenizer of a GGUF file, which needs no tensors (a vocabulary-only
 * file will do). Local. */
cb_status_t llm_tok_open(const char *path, llm_tok_t **tok_p);
void llm_tok_free(llm_tok_t *tok);

int llm_tok_n_vocab(const llm_tok_t *tok);
int llm_tok_kind(const llm_tok_t *tok);      /* llm_tok_kind_t */
int llm_tok_pre(const llm_tok_t *tok);       /* llm_pre_t (BPE) */
int llm_tok_bos(const llm_tok_t *tok);       /* -1 when none */
int llm_tok_eos(const llm_tok_t *tok);
int llm_tok_eot(const llm_tok_t *tok);
int llm_tok_add_bos(const llm_tok_t *tok);   /* tokenizer.ggml.add_bos_token */
int llm_tok_add_space_prefix(const llm_tok_t *tok); /* SPM: a space goes in front of the text */
int llm_tok_nfc(const llm_tok_t *tok);       /* text is normalized to NFC before splitting */
/* tokenizer.chat_template (*n_p bytes, NUL-terminated), or NULL. */
const char *llm_tok_chat_template(const llm_tok_t *tok, size_t *n_p);
/* 1 if generation ends at `id`: EOS, EOT or another end-of-generation token. */
int llm_tok_is_eog(const llm_tok_t *tok, int id);
/* The token's text as the file stores it (NUL-terminated), or "" out of range. */
const char *llm_tok_text(const llm_tok_t *tok, int id);
int llm_tok_type(const llm_tok_t *tok, int id);
/* Id of the token whose stored text is s[0..n), or -1. */
int llm_tok_find(const llm_tok_t *tok, const char *s, size_t n);

/* A growable list of token ids. */
typedef struct {
    int *v;
    int n, cap;
} llm_ids_t;
cb_status_t llm_ids_push(llm_ids_t *ids, int id);
void llm_ids_free(llm_ids_t *ids);

/* Append the tokens of text[0..len) to ids: BOS first when add_bos (and the
 * vocabulary has one), then the text with its special and control tokens
 * matched first when `special`. Any bytes are accepted. Local. */
cb_status_t llm_tok_encode(const llm_tok_t *tok, const char *text, size_t len, int add_bos, int special,
                           llm_ids_t *ids);
/* The bytes token `id` stands for (*n_p of them at the returned pointer,
 * valid while tok lives): byte-level mapping undone, '▁' as space, <0xNN>
 * as the byte; control tokens give "" unless `special`. */
const char *llm_tok_piece(const llm_tok_t *tok, int id, int special, size_t *n_p);

/* Internal: the encoders of each kind (llm_tok_spm.c, llm_tok_bpe.c) and
 * the pre-tokenizer (llm_tok_pre.c), on one run of text without specials. */
cb_status_t llm_tok_spm_encode(const llm_tok_t *tok, const char *text, size_t len, int space_prefix, llm_ids_t *ids);
cb_status_t llm_tok_bpe_encode(const llm_tok_t *tok, const char *text, size_t len, llm_ids_t *ids);
/* Split text[0..len) into pre-tokens: calls emit(arg, start, end) with byte
 * offsets, in order, covering the text; stops at the first failure. */
typedef cb_status_t (*llm_pre_emit_t)(void *arg, size_t start, size_t end);
cb_status_t llm_pre_split(int pre, const char *text, size_t len, llm_pre_emit_t emit, void *arg);

/* Internal: the merge candidates both encoders keep in a heap, best first:
 * lowest key, then leftmost. */
typedef struct {
    double key;         /* SPM: -score of the merged token; BPE: merge rank */
    int left, right;    /* symbol indices */
    int lid, rid;       /* their token ids (BPE) or byte lengths (SPM) when pushed */
    int res;            /* BPE: the merged token */
} llm_tok_cand_t;
typedef struct {
    llm_tok_cand_t *v;
    int n, cap;
} llm_tok_heap_t;
cb_status_t llm_tok_heap_push(llm_tok_heap_t *h, const llm_tok_cand_t *c);
int llm_tok_heap_pop(llm_tok_heap_t *h, llm_tok_cand_t *c_p);   /* 0 when empty */
/* BPE: the merge of tokens l and r: its rank and result, or -1. */
int llm_tok_merge(const llm_tok_t *tok, int l, int r, int *res_p);
/* Byte b's token: BPE its byte-level character, SPM <0xNN> (-1 if none). */
int llm_tok_byte_token(const llm_tok_t *tok, int b);
int llm_tok_unk(const llm_tok_t *tok);
int llm_tok_ignore_merges(const llm_tok_t *tok);
float llm_tok_score(const llm_tok_t *tok, int id);
/* GPT-2's byte-to-unicode map: byte b as a UTF-8 character (*n_p bytes). */
const char *llm_bytelevel_char(int b, int *n_p);

/* ================================================================ chat */

typedef enum { LLM_CHAT_CHATML = 0, LLM_CHAT_QWEN3, LLM_CHAT_LLAMA3, LLM_CHAT_DEEPSEEK3 } llm_chat_kind_t;
extern const char *const llm_chat_names[]; /* "chatml", "qwen3", "llama3", "deepseek-v3", NULL */

/* Recognise a Jinja chat template (tokenizer.chat_template) as one of the
 * built-in forms; -1 when it is none of them. */
int llm_chat_detect(const char *tmpl, size_t n);
/* The text to feed for one user turn, tokenized with special tokens: on
 * the first turn the opening (BOS, written as text, and the system prompt if
 * any); on later ones first the end of the previous assistant reply (the
 * stop token the model generated is not in the KV cache, and a reply cut by
 * -n has none); then the user's message (`bos`: the BOS token's text, or
 * NULL) and the assistant's header.
 * Returns malloc'ed text or NULL (out of memory). */
char *llm_chat_turn(int kind, int first, const char *bos, const char *system, const char *user);

/* ================================================================ subcommands */

/* The text subcommands (llm_main.c). Collective over MPI_COMM_WORLD. */
cb_status_t llm_cmd_tokenize(int argc, char **argv);
cb_status_t llm_cmd_chat(int argc, char **argv);

#endif
