# tests/: the common layer's unit tests and the launcher every MPI test uses.
dist_noinst_SCRIPTS += tests/launch
EXTRA_DIST += tests/cb_check.h

check_PROGRAMS += tests/common/test_stats tests/common/test_options tests/common/test_results \
  tests/common/slow_writer tests/common/agree_fail tests/common/test_ucoll
tests_common_test_stats_LDADD = $(CB_LIBS)
tests_common_test_options_LDADD = $(CB_LIBS)
tests_common_test_results_LDADD = $(CB_LIBS)
tests_common_test_results_CPPFLAGS = $(AM_CPPFLAGS) $(HDF5_CFLAGS)
tests_common_slow_writer_LDADD = $(CB_LIBS)
tests_common_slow_writer_CPPFLAGS = $(AM_CPPFLAGS) $(HDF5_CFLAGS)
tests_common_agree_fail_LDADD = $(CB_LIBS)
tests_common_test_ucoll_LDADD = $(CB_LIBS)

TESTS += tests/common/test_stats tests/common/test_options tests/common/test_results \
  tests/common/interrupted.sh tests/common/agree.sh
EXTRA_DIST += tests/common/interrupted.sh tests/common/agree.sh

# The option parser's fuzz target: replayed over its corpus in make check;
# scripts/fuzz runs it (and every other tests/*/fuzz_*.c) under libFuzzer.
check_PROGRAMS += tests/common/fuzz_options_replay
tests_common_fuzz_options_replay_SOURCES = tests/common/fuzz_options.c tests/fuzz_replay.c
tests_common_fuzz_options_replay_LDADD = $(CB_LIBS)
TESTS += tests/common/fuzz-options.sh
dist_noinst_SCRIPTS += scripts/fuzz scripts/soak
EXTRA_DIST += tests/common/fuzz-options.sh tests/common/fuzz/corpus
if ENABLE_FUZZERS
check_PROGRAMS += tests/common/fuzz_options
tests_common_fuzz_options_SOURCES = tests/common/fuzz_options.c
tests_common_fuzz_options_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address
tests_common_fuzz_options_LDFLAGS = -fsanitize=fuzzer,address
tests_common_fuzz_options_LDADD = $(CB_LIBS)
endif

# The UCX collective layer
TESTS += tests/common/ucoll.sh
EXTRA_DIST += tests/common/ucoll.sh

# A full disk at start and mid-run, for each program (root: a tmpfs)
TESTS += tests/common/disk_full.sh
EXTRA_DIST += tests/common/disk_full.sh tests/common/fill_at_close.c

# Faults at any moment: signals at random moments, a rank killed with SIGKILL
TESTS += tests/common/signals.sh tests/common/rank_killed.sh tests/common/mpirun_guard.sh
EXTRA_DIST += tests/common/signals.sh tests/common/rank_killed.sh tests/common/mpirun_guard.sh tests/common/faults_lib.sh

# The llama2.c loader's and the chat templates' fuzz targets (scripts/fuzz), and
# their replayers over the committed corpora in make check (tests/llm/fuzz-more.sh)
check_PROGRAMS += tests/llm/fuzz_l2c_replay tests/llm/fuzz_chat_replay
tests_llm_fuzz_l2c_replay_SOURCES = tests/llm/fuzz_l2c.c tests/fuzz_replay.c
tests_llm_fuzz_l2c_replay_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_fuzz_l2c_replay_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_fuzz_l2c_replay_LDADD = $(LLM_LIBS)
tests_llm_fuzz_chat_replay_SOURCES = tests/llm/fuzz_chat.c tests/fuzz_replay.c
tests_llm_fuzz_chat_replay_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS)
tests_llm_fuzz_chat_replay_LDFLAGS = $(OPENMP_CFLAGS)
tests_llm_fuzz_chat_replay_LDADD = $(LLM_LIBS)
TESTS += tests/llm/fuzz-more.sh
EXTRA_DIST += tests/llm/fuzz-more.sh tests/llm/fuzz/corpus-fuzz_l2c tests/llm/fuzz/corpus-fuzz_chat
if ENABLE_FUZZERS
check_PROGRAMS += tests/llm/fuzz_l2c tests/llm/fuzz_chat
tests_llm_fuzz_l2c_SOURCES = tests/llm/fuzz_l2c.c $(llm_libllm_a_SOURCES)
tests_llm_fuzz_l2c_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
tests_llm_fuzz_l2c_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS) -fsanitize=fuzzer,address
tests_llm_fuzz_l2c_LDFLAGS = $(OPENMP_CFLAGS) -fsanitize=fuzzer,address
tests_llm_fuzz_l2c_LDADD = $(CB_LIBS)
tests_llm_fuzz_chat_SOURCES = tests/llm/fuzz_chat.c $(llm_libllm_a_SOURCES)
tests_llm_fuzz_chat_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
tests_llm_fuzz_chat_CFLAGS = $(AM_CFLAGS) $(OPENMP_CFLAGS) -fsanitize=fuzzer,address
tests_llm_fuzz_chat_LDFLAGS = $(OPENMP_CFLAGS) -fsanitize=fuzzer,address
tests_llm_fuzz_chat_LDADD = $(CB_LIBS)
endif
