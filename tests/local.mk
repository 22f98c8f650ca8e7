# tests/: the common layer's unit tests and the launcher every MPI test uses.
dist_noinst_SCRIPTS += tests/launch
