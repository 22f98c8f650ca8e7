# hpl: the HPL FP64 solver (see ../shared/DESIGN.md).
bin_PROGRAMS += hpl/hpl
hpl_hpl_SOURCES = \
  hpl/hpl.h hpl/hpl_main.c hpl/hpl_input.c hpl/hpl_grid.c hpl/hpl_matrix.c \
  hpl/hpl_panel.c hpl/hpl_bcast.c hpl/hpl_swap.c hpl/hpl_update.c hpl/hpl_lu.c \
  hpl/hpl_solve.c hpl/hpl_verify.c hpl/hpl_blas.c hpl/hpl_dgemm.c hpl/hpl_scalapack.c
hpl_hpl_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS) $(HDF5_CFLAGS)
hpl_hpl_LDADD = $(CB_LIBS) $(SCALAPACK_LIBS) $(BLAS_LIBS) -lm
dist_noinst_DATA += hpl/HPL.dat hpl/README.md

# tests: MPI scripts through tests/launch, and the HPL.dat parser's fuzz corpus
# replayed without libFuzzer
HPL_TESTS = tests/hpl/grids.sh tests/hpl/variants.sh tests/hpl/check.sh tests/hpl/bad-input.sh tests/hpl/cluster.sh \
  tests/hpl/scalapack.sh tests/hpl/fuzz.sh
TESTS += $(HPL_TESTS)
dist_noinst_SCRIPTS += $(HPL_TESTS)
EXTRA_DIST += tests/hpl/fuzz/corpus
# the own DGEMM against a long-double triple loop on every ISA path
check_PROGRAMS += tests/hpl/test_dgemm
TESTS += tests/hpl/test_dgemm
tests_hpl_test_dgemm_SOURCES = tests/hpl/test_dgemm.c hpl/hpl_dgemm.c
tests_hpl_test_dgemm_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS) -I$(srcdir)/hpl
tests_hpl_test_dgemm_LDADD = $(CB_LIBS) $(BLAS_LIBS) -lm
check_PROGRAMS += tests/hpl/fuzz_replay
tests_hpl_fuzz_replay_SOURCES = tests/hpl/fuzz_dat.c tests/fuzz_replay.c hpl/hpl_input.c
tests_hpl_fuzz_replay_LDADD = $(CB_LIBS)
if ENABLE_FUZZERS
# libFuzzer (clang): OMPI_CC=clang configure --enable-fuzzers;
#   OMPI_CC=clang make tests/hpl/fuzz_dat
#   tests/hpl/fuzz_dat -max_total_time=300 -dict=$(srcdir)/tests/hpl/fuzz/dat.dict NEW_DIR $(srcdir)/tests/hpl/fuzz/corpus
# then merge what it finds into the corpus (-merge=1) and commit it.
check_PROGRAMS += tests/hpl/fuzz_dat
tests_hpl_fuzz_dat_SOURCES = tests/hpl/fuzz_dat.c hpl/hpl_input.c
tests_hpl_fuzz_dat_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer,address
tests_hpl_fuzz_dat_LDFLAGS = -fsanitize=fuzzer,address
tests_hpl_fuzz_dat_LDADD = $(CB_LIBS)
endif
EXTRA_DIST += tests/hpl/fuzz/dat.dict
dist_noinst_DATA += tests/hpl/lib.sh
dist_noinst_SCRIPTS += scripts/bench-hpl
