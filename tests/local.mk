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
  tests/common/interrupted.sh tests/common/agree.sh tests/common/ucoll.sh
EXTRA_DIST += tests/common/interrupted.sh tests/common/agree.sh tests/common/ucoll.sh
