# scripts: setup, test, run-suite, slurm/, cluster/.

# The emulated cluster's link-delay relay (scripts/cluster/up --delay-us on kernels
# without netem). Never installed: built by make check for the tests, and on demand
# (make scripts/cluster/relay) by run-suite and scripts/cluster/up's users.
check_PROGRAMS += scripts/cluster/relay
scripts_cluster_relay_SOURCES = scripts/cluster/relay.c
