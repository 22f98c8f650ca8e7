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
#
# make install: the programs as cb-hpl, cb-microbench, cb-llm (hpl and llm are common
# names: llm is a popular CLI), the scripts under $(pkglibexecdir)/scripts as in the
# checkout, and `clusterbench` in $(bindir) to reach them: clusterbench run-suite,
# clusterbench summary FILE.h5, clusterbench hpl ... (see scripts/clusterbench.in).
transform = s/^hpl$$/cb-hpl/;s/^microbench$$/cb-microbench/;s/^llm$$/cb-llm/;$(program_transform_name)
cbdir = $(pkglibexecdir)
nobase_dist_cb_SCRIPTS = scripts/run-suite scripts/summary scripts/compare scripts/plot scripts/export \
  scripts/slurm/hpl.sbatch scripts/slurm/microbench.sbatch scripts/slurm/llm.sbatch \
  scripts/slurm/suite.sbatch scripts/slurm/sweep.sbatch \
  scripts/cluster/up scripts/cluster/down scripts/cluster/exec scripts/cluster/agent \
  scripts/cluster/mpirun scripts/cluster/measure scripts/cluster/slurm-up scripts/cluster/slurm-down \
  scripts/mpirun-guard
nobase_dist_cb_DATA = scripts/common.sh scripts/cbresults.py scripts/cluster/lib.sh scripts/slurm/job.sh \
  scripts/slurm/sweep.example results/published.csv
EXTRA_DIST += scripts/clusterbench.in scripts/check-bare-debian scripts/cluster/README.md
# Written at install time, so that `make install prefix=DIR` puts DIR in them: the
# clusterbench command, and installed.sh, through which the installed scripts find the
# installed programs (common.sh).
install-exec-local:
	$(MKDIR_P) "$(DESTDIR)$(bindir)"
	sed -e 's|@pkglibexecdir[@]|$(pkglibexecdir)|g' -e 's|@bindir[@]|$(bindir)|g' \
	  -e 's|@VERSION[@]|$(VERSION)|g' $(srcdir)/scripts/clusterbench.in > "$(DESTDIR)$(bindir)/clusterbench"
	chmod 755 "$(DESTDIR)$(bindir)/clusterbench"
install-data-hook:
	printf "CB_BINDIR='%s'\n" "$(bindir)" > "$(DESTDIR)$(pkglibexecdir)/scripts/installed.sh"
uninstall-local:
	rm -f "$(DESTDIR)$(bindir)/clusterbench" "$(DESTDIR)$(pkglibexecdir)/scripts/installed.sh"
	rm -rf "$(DESTDIR)$(pkglibexecdir)/scripts/__pycache__"
EXTRA_DIST += tests/scripts/fuzz/corpus
dist_noinst_DATA += tests/scripts/lib.sh tests/scripts/slurm-jobs.sh tests/scripts/h5check.py \
  tests/scripts/tcp_pingpong.py tests/scripts/units.py tests/scripts/fuzz_hostfile.py
SCRIPTS_TESTS = tests/scripts/bad-input.sh tests/scripts/hostfile.sh tests/scripts/run-suite.sh tests/scripts/compare.sh \
  tests/scripts/summary-plot.sh tests/scripts/results-format.sh tests/scripts/slurm-sbatch.sh \
  tests/scripts/install.sh \
  tests/scripts/cluster-mpirun.sh tests/scripts/cluster-delay.sh tests/scripts/cluster-ucoll.sh tests/scripts/cluster-killed.sh \
  tests/scripts/slurm-1host.sh tests/scripts/slurm-4hosts.sh
TESTS += $(SCRIPTS_TESTS)
dist_noinst_SCRIPTS += $(SCRIPTS_TESTS)

# The performance model (scripts/predict), its node files, scripts/reproduce and their test.
nobase_dist_cb_SCRIPTS += scripts/predict scripts/reproduce scripts/validate
nobase_dist_cb_DATA += results/nodes/m3-ultra.json
TESTS += tests/scripts/predict.sh
dist_noinst_SCRIPTS += tests/scripts/predict.sh
