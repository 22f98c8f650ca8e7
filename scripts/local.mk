# scripts/: setup and test (the README's commands), run-suite, slurm/, cluster/, plots.
dist_noinst_SCRIPTS += scripts/setup scripts/test
EXTRA_DIST += .ci/run

# The emulated cluster's link-delay relay (scripts/cluster/up --delay-us on kernels
# without netem). Never installed: built by make check for the tests, and on demand
# (make scripts/cluster/relay) by run-suite and scripts/cluster/up's users.
check_PROGRAMS += scripts/cluster/relay
scripts_cluster_relay_SOURCES = scripts/cluster/relay.c

# Scripts and their tests (tests/scripts/; they skip with 77 where they cannot run:
# no root, no namespaces, no Slurm, a program not built).
dist_noinst_SCRIPTS += scripts/run-suite scripts/summary scripts/compare scripts/plot \
  scripts/cluster/up scripts/cluster/down scripts/cluster/exec scripts/cluster/agent \
  scripts/cluster/mpirun scripts/cluster/slurm-up scripts/cluster/slurm-down
dist_noinst_DATA += scripts/common.sh scripts/cbresults.py scripts/cluster/lib.sh scripts/slurm/job.sh \
  scripts/slurm/hpl.sbatch scripts/slurm/microbench.sbatch scripts/slurm/llm.sbatch \
  scripts/slurm/suite.sbatch results/published.csv \
  tests/scripts/lib.sh tests/scripts/slurm-jobs.sh tests/scripts/h5check.py \
  tests/scripts/tcp_pingpong.py
SCRIPTS_TESTS = tests/scripts/bad-input.sh tests/scripts/run-suite.sh tests/scripts/compare.sh \
  tests/scripts/cluster-mpirun.sh tests/scripts/cluster-delay.sh tests/scripts/cluster-ucoll.sh \
  tests/scripts/slurm-1host.sh tests/scripts/slurm-4hosts.sh
TESTS += $(SCRIPTS_TESTS)
dist_noinst_SCRIPTS += $(SCRIPTS_TESTS)
