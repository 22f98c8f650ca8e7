# microbench: latency, bandwidth, collectives, one-sided; over MPI and UCX.
# One engine (mb_engine.c) drives the table of tests (mb_tests.c) over a
# backend per layer: MPI (mb_mpi*.c), UCX (mb_ucx*.c), local memory (mb_local.c).
bin_PROGRAMS += microbench/microbench
microbench_microbench_SOURCES = \
  microbench/mb.h microbench/mb_main.c microbench/mb_engine.c microbench/mb_tests.c \
  microbench/mb_pattern.c microbench/mb_clock.c \
  microbench/mb_mpi.h microbench/mb_mpi.c microbench/mb_mpi_coll.c microbench/mb_mpi_rma.c \
  microbench/mb_ucx.h microbench/mb_ucx.c microbench/mb_ucx_run.c \
  microbench/mb_local.c microbench/mb_coll.c microbench/mb_shapes.c
microbench_microbench_CPPFLAGS = $(AM_CPPFLAGS) $(UCX_CFLAGS) $(HDF5_CFLAGS)
microbench_microbench_LDADD = $(CB_LIBS)

# Tests: MPI runs through tests/launch, files read back with h5py.
MB_TESTS = tests/microbench/latency.sh tests/microbench/p2p.sh tests/microbench/coll.sh \
  tests/microbench/ucx.sh tests/microbench/validate.sh tests/microbench/badinput.sh \
  tests/microbench/format.sh tests/microbench/allreduce_alg.sh
TESTS += $(MB_TESTS)
EXTRA_DIST += tests/microbench/check_h5.py tests/microbench/lib.sh $(MB_TESTS)

# The benchmark against ucx_perftest and OSU's figures (a script, not a test).
dist_noinst_SCRIPTS += scripts/bench-microbench scripts/bench-allreduce
