# llm/: the tensor-parallel transformer (see ../shared/DESIGN.md).
noinst_LIBRARIES += llm/libllm.a
llm_libllm_a_SOURCES = llm/llm.h llm/llm_kern.h llm/llm_quant.c llm/llm_team.h llm/llm_team.c llm/llm_kernels.c llm/llm_kquant.c llm/llm_dotrows.c llm/llm_gemm.c llm/llm_peak.c llm/llm_gguf.c llm/llm_l2c.c \
  llm/llm_desc.c llm/llm_shape.c llm/llm_shard.c llm/llm_comm.c llm/llm_forward.c llm/llm_attn.c \
  llm/llm_sample.c llm/llm_model.c llm/llm_bench.c llm/llm_moe.h llm/llm_moe.c llm/llm_moe_kern.c llm/llm_rope.c llm/llm_mla.c \
  llm/llm_tok.h llm/llm_unicode.c llm/llm_unicode_tab.c llm/llm_tok.c llm/llm_tok_spm.c llm/llm_tok_bpe.c \
  llm/llm_tok_pre.c llm/llm_chat.c
llm_libllm_a_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
llm_libllm_a_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
LLM_LIBS = llm/libllm.a $(CB_LIBS)

bin_PROGRAMS += llm/llm
llm_llm_SOURCES = llm/llm_main.c
llm_llm_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
llm_llm_LDFLAGS = $(OPENMP_CFLAGS)
llm_llm_LDADD = $(LLM_LIBS)

# Tests (tests/llm/): kernels and types in C, the parsers' fuzz corpus, and MPI
# scripts: rank-count equivalence and the numpy reference per architecture,
# the pinned stories260K continuation, bad input.
check_PROGRAMS += tests/llm/test_moe_kern
tests_llm_test_moe_kern_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_test_moe_kern_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_test_moe_kern_LDADD = $(LLM_LIBS)
check_PROGRAMS += tests/llm/test_team
tests_llm_test_team_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_test_team_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_test_team_LDADD = $(LLM_LIBS)
check_PROGRAMS += tests/llm/test_attn
tests_llm_test_attn_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_test_attn_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_test_attn_LDADD = $(LLM_LIBS)
check_PROGRAMS += tests/llm/test_quant tests/llm/fuzz_replay tests/llm/fuzz_tok_replay tests/llm/test_tok
tests_llm_test_tok_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_test_tok_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_test_tok_LDADD = $(LLM_LIBS)
tests_llm_test_quant_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_test_quant_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_test_quant_LDADD = $(LLM_LIBS)
tests_llm_fuzz_replay_SOURCES = tests/llm/fuzz_gguf.c tests/fuzz_replay.c
tests_llm_fuzz_replay_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_fuzz_replay_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_fuzz_replay_LDADD = $(LLM_LIBS)
tests_llm_fuzz_tok_replay_SOURCES = tests/llm/fuzz_tok.c tests/fuzz_replay.c
tests_llm_fuzz_tok_replay_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_fuzz_tok_replay_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_fuzz_tok_replay_LDADD = $(LLM_LIBS)
if ENABLE_FUZZERS
# libFuzzer (clang): OMPI_CC=clang configure --enable-fuzzers;
#   OMPI_CC=clang make tests/llm/fuzz_gguf
#   tests/llm/fuzz_gguf -max_total_time=300 NEW_DIR $(srcdir)/tests/llm/fuzz/corpus
# then merge what it finds into the corpus (-merge=1) and commit it.
check_PROGRAMS += tests/llm/fuzz_gguf
tests_llm_fuzz_gguf_SOURCES = tests/llm/fuzz_gguf.c $(llm_libllm_a_SOURCES)
tests_llm_fuzz_gguf_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
tests_llm_fuzz_gguf_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS) -fsanitize=fuzzer,address
tests_llm_fuzz_gguf_LDFLAGS = $(OPENMP_CFLAGS) -fsanitize=fuzzer,address
tests_llm_fuzz_gguf_LDADD = $(CB_LIBS)
# The tokenizer target, the same way: tests/llm/fuzz_tok ... $(srcdir)/tests/llm/fuzz/tok
check_PROGRAMS += tests/llm/fuzz_tok
tests_llm_fuzz_tok_SOURCES = tests/llm/fuzz_tok.c $(llm_libllm_a_SOURCES)
tests_llm_fuzz_tok_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
tests_llm_fuzz_tok_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS) -fsanitize=fuzzer,address
tests_llm_fuzz_tok_LDFLAGS = $(OPENMP_CFLAGS) -fsanitize=fuzzer,address
tests_llm_fuzz_tok_LDADD = $(CB_LIBS)
endif
TESTS += tests/llm/test_quant tests/llm/test_attn tests/llm/test_team tests/llm/quant_numpy.sh tests/llm/test_tok tests/llm/fuzz.sh tests/llm/bad_input.sh tests/llm/stories.sh tests/llm/bench.sh \
  tests/llm/equiv-llama.sh tests/llm/equiv-qwen2.sh tests/llm/equiv-qwen3.sh \
  tests/llm/fuzz_tok.sh tests/llm/tokenizers.sh tests/llm/tok_bad.sh tests/llm/chat.sh tests/llm/nfc.sh
EXTRA_DIST += tests/llm/equiv.sh tests/llm/quant_numpy.sh tests/llm/quant_numpy.py tests/llm/fuzz.sh tests/llm/bad_input.sh tests/llm/stories.sh tests/llm/bench.sh \
  tests/llm/equiv-llama.sh tests/llm/equiv-qwen2.sh tests/llm/equiv-qwen3.sh \
  tests/llm/gguf_write.py tests/llm/ref.py tests/llm/compare_logits.py tests/llm/fuzz/corpus \
  tests/llm/fuzz_tok.sh tests/llm/tokenizers.sh tests/llm/tok_bad.sh tests/llm/chat.sh tests/llm/nfc.sh tests/llm/fuzz/tok \
  tests/llm/tok_gguf.py tests/llm/tok_tiny.py tests/llm/tok_stress.py tests/llm/tok_ref.mjs tests/llm/tok_corpus.jsonl
dist_noinst_SCRIPTS += scripts/bench-llm scripts/gen-unicode-table scripts/bench-tokenizer scripts/compare-tokenizers

# Mixtures of experts (qwen3moe)
TESTS += tests/llm/moe.sh tests/llm/test_moe_kern
EXTRA_DIST += tests/llm/moe.sh
dist_noinst_SCRIPTS += scripts/bench-moe

# deepseek2: multi-head latent attention, DeepSeek MoE; RoPE scaling
TESTS += tests/llm/equiv-deepseek2.sh tests/llm/equiv-deepseek2-lite.sh tests/llm/rope.sh
EXTRA_DIST += tests/llm/equiv-deepseek2.sh tests/llm/equiv-deepseek2-lite.sh tests/llm/rope.sh

# llm against llama.cpp (libllama from npm, through scripts/llama-peer; they skip when it is absent)
TESTS += tests/llm/llama-peer.sh tests/llm/llama-ref.sh
EXTRA_DIST += tests/llm/llama-peer.sh tests/llm/llama-ref.sh
dist_noinst_SCRIPTS += scripts/llama-peer/llama-peer
dist_noinst_DATA += scripts/llama-peer/llama_peer.c scripts/llama-peer/llama_abi.h

# The tensor-parallel allreduce options give the same tokens
TESTS += tests/llm/allreduce.sh
EXTRA_DIST += tests/llm/allreduce.sh

# Hostile files at scale: a million metadata keys, FIFOs, directories, devices
TESTS += tests/llm/many_keys.sh
EXTRA_DIST += tests/llm/many_keys.sh

# The layer split (--split layers)
TESTS += tests/llm/split_layers.sh
EXTRA_DIST += tests/llm/split_layers.sh
