# scripts/: setup and test (the README's commands), run-suite, slurm/, cluster/, plots.
dist_noinst_SCRIPTS += scripts/setup scripts/test
EXTRA_DIST += .ci/run
