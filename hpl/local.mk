# hpl: the HPL FP64 solver (see ../shared/DESIGN.md).
bin_PROGRAMS += hpl/hpl
hpl_hpl_SOURCES = \
  hpl/hpl.h hpl/hpl_main.c hpl/hpl_input.c hpl/hpl_grid.c hpl/hpl_matrix.c \
  hpl/hpl_panel.c hpl/hpl_bcast.c hpl/hpl_swap.c hpl/hpl_update.c hpl/hpl_lu.c \
  hpl/hpl_solve.c hpl/hpl_verify.c hpl/hpl_blas.c hpl/hpl_scalapack.c
hpl_hpl_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS) $(HDF5_CFLAGS)
hpl_hpl_LDADD = $(CB_LIBS) $(SCALAPACK_LIBS) $(BLAS_LIBS) -lm
dist_noinst_DATA += hpl/HPL.dat hpl/README.md

# tests: MPI scripts through tests/launch
HPL_TESTS = tests/hpl/grids.sh tests/hpl/variants.sh tests/hpl/check.sh tests/hpl/bad-input.sh \
  tests/hpl/scalapack.sh
TESTS += $(HPL_TESTS)
dist_noinst_SCRIPTS += $(HPL_TESTS)
dist_noinst_DATA += tests/hpl/lib.sh
dist_noinst_SCRIPTS += scripts/bench-hpl
