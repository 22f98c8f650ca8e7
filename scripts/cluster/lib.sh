# scripts/cluster/lib.sh: what up, down, exec, agent, mpirun, slurm-up and slurm-down
# share: where the emulated cluster keeps its state, and how to read it back.
# Sourced, never run. Every emulated host is a network namespace named after it.

# State of the running cluster (hostfile, logs, Slurm files); one cluster at a time.
CB_CLUSTER_DIR=${CB_CLUSTER_DIR:-/run/clusterbench-cluster}
CB_CLUSTER_HERE=$(cd "$(dirname "$0")" && pwd)
# The benchmarking range (RFC 2544): these addresses exist only inside the namespaces.
CB_CLUSTER_NET=198.18
CB_CLUSTER_MASK=15

cl_die() {
    echo "${CB_PROG:-cluster}: $*" >&2
    exit 1
}

# cl_need_root WHAT: namespaces, bridges and daemons need CAP_SYS_ADMIN and CAP_NET_ADMIN.
cl_need_root() {
    [ "$(id -u)" = 0 ] || cl_die "$1: must run as root (network namespaces need CAP_NET_ADMIN)"
    command -v ip >/dev/null 2>&1 || cl_die "$1: 'ip' not found: install iproute2"
}

# cl_load: read the state written by up (cl_n, cl_prefix, cl_delay_us, cl_mode, cl_rate_mbit,
# cl_link, cl_hosts).
# Returns 1 when no cluster is up.
cl_load() {
    [ -f "$CB_CLUSTER_DIR/state" ] || return 1
    # The state file is ours (written by up, root-owned, in a root-only folder); still,
    # read only the keys we know instead of sourcing it.
    cl_n=$(sed -n 's/^n=\([0-9]*\)$/\1/p' "$CB_CLUSTER_DIR/state")
    cl_prefix=$(sed -n 's/^prefix=\([a-z][a-z0-9]*\)$/\1/p' "$CB_CLUSTER_DIR/state")
    cl_delay_us=$(sed -n 's/^delay_us=\([0-9]*\)$/\1/p' "$CB_CLUSTER_DIR/state")
    cl_mode=$(sed -n 's/^mode=\([a-z]*\)$/\1/p' "$CB_CLUSTER_DIR/state")
    cl_rate_mbit=$(sed -n 's/^rate_mbit=\([0-9]*\)$/\1/p' "$CB_CLUSTER_DIR/state")
    cl_link=$(sed -n 's/^link=\([a-z0-9.]*\)$/\1/p' "$CB_CLUSTER_DIR/state")
    [ -n "$cl_n" ] && [ -n "$cl_prefix" ] || return 1
    cl_hosts=""
    i=0
    while [ "$i" -lt "$cl_n" ]; do
        cl_hosts="$cl_hosts $cl_prefix$i"
        i=$((i + 1))
    done
    return 0
}

# cl_cores HOST: the taskset list HOST is pinned to (up --cores), empty when not pinned.
cl_cores() {
    i=${1#"$cl_prefix"}
    sed -n "s/^cores$i=\([0-9,-]*\)\$/\1/p" "$CB_CLUSTER_DIR/state"
}

# cl_pin HOST: the words that run a command on HOST's cores ("taskset -c L"), or none.
cl_pin() {
    c=$(cl_cores "$1")
    [ -n "$c" ] && echo "taskset -c $c"
    return 0
}

# cl_addr I: the address of host I.
cl_addr() {
    echo "$CB_CLUSTER_NET.$(($1 / 250)).$(($1 % 250 + 1))"
}

# cl_is_host NAME: true if NAME is a host of the running cluster.
cl_is_host() {
    for h in $cl_hosts; do
        [ "$h" = "$1" ] && return 0
    done
    return 1
}
