# common/: the cb_ layer every program links.
noinst_LIBRARIES += common/libcb.a
common_libcb_a_SOURCES = \
  common/cb.h common/cb_status.h common/cb_status.c \
  common/cb_mpi.h common/cb_mpi.c common/cb_mem.h common/cb_mem.c \
  common/cb_options.h common/cb_options.c common/cb_stats.h common/cb_stats.c \
  common/cb_provenance.h common/cb_provenance.c \
  common/cb_results.h common/cb_results.c common/cb_signal.h common/cb_signal.c \
  common/cb_ucoll.h common/cb_ucoll.c common/cb_fsum.h common/cb_fsum.c \
  common/cb_rd.h common/cb_rd.c
common_libcb_a_CPPFLAGS = $(AM_CPPFLAGS) $(HDF5_CFLAGS) $(UCX_CFLAGS) $(BLAS_CFLAGS)
nodist_common_libcb_a_SOURCES = common/cb_version.h

# Libraries a program linking libcb.a needs.
CB_LIBS = common/libcb.a $(HDF5_LIBS) $(UCX_LIBS) $(BLAS_LIBS)

# The git version, refreshed at every build but rewritten only when it changes.
BUILT_SOURCES += common/cb_version.h
CLEANFILES += common/cb_version.h common/cb_version.h.tmp.*
common/cb_version.h: cb-version-force
	@mkdir -p common
	@v=`git -C $(top_srcdir) describe --always --tags --dirty 2>/dev/null || echo $(VERSION)`; \
	  t=$@.tmp.$$$$; \
	  printf '#ifndef CB_VERSION_H\n#define CB_VERSION_H\n#define CB_VERSION "%s"\n#endif\n' "$$v" > $$t; \
	  if cmp -s $$t $@; then rm -f $$t; else mv -f $$t $@; fi
.PHONY: cb-version-force
cb-version-force:
