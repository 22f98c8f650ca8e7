# Shared by the fault tests (signals.sh, rank_killed.sh) and scripts/soak:
# the programs' runs a fault is injected into, and the check of what a run
# left behind. Source it with top_srcdir and top_builddir set.
# shellcheck shell=sh

py=${PYTHON3:-/usr/bin/python3}
launch=$top_srcdir/tests/launch

# fault_setup DIR [N]: the HPL.dat of the hpl runs (48 problems of order N,
# default 800, a row each) in DIR, which becomes the working folder of every run.
fault_setup() {
    mkdir -p "$1"
    n=${2:-800}
    cat > "$1/HPL.dat" <<DAT
HPLinpack benchmark input file
clusterbench fault tests
HPL.out      output file name (if any)
6            device out (6=stdout,7=stderr,file)
4            # of problems sizes (N)
$n $n $n $n  Ns
2            # of NBs
32 64        NBs
0            PMAP process mapping (0=Row-,1=Column-major)
1            # of process grids (P x Q)
1            Ps
2            Qs
16.0         threshold
1            # of panel fact
1            PFACTs (0=left, 1=Crout, 2=Right)
1            # of recursive stopping criterium
4            NBMINs (>= 1)
1            # of panels in recursion
2            NDIVs
1            # of recursive panel fact.
1            RFACTs (0=left, 1=Crout, 2=Right)
6            # of broadcast
0 1 2 3 4 5  BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)
1            # of lookahead depth
1            DEPTHs (>=0)
2            SWAP (0=bin-exch,1=long,2=mix)
64           swapping threshold
0            L1 in (0=transposed,1=no-transposed) form
0            U  in (0=transposed,1=no-transposed) form
1            Equilibration (0=no,1=yes)
8            memory alignment in double (> 0)
DAT
}

# The programs: name|command of a run that writes rows for several seconds.
# llm's start-up builds its model (the synthetic shape), as a model load does.
fault_programs="hpl|hpl/hpl
microbench|microbench/microbench latency bw -m 1:64K -t 0.1
llm|llm/llm bench --shape qwen3:dim=512,ffn=1536,layers=4,heads=8,kv=2,head_dim=64,vocab=4096 --type q8_0 -p 128 -n 64 -r 30"

# fault_rand SEED MAX: a number in [0, MAX) with 2 decimals, from SEED.
fault_rand() {
    awk -v s="$1" -v m="$2" 'BEGIN { srand(s); printf "%.2f", rand() * m }'
}

# fault_rank_pids OUT NAME: the pids of program NAME's ranks writing OUT (their
# argv holds "-o OUT"; not the launcher, whose argv holds it too).
fault_rank_pids() {
    pgrep -f -- "-o $1( |\$)" | while read -r p; do
        [ "$(cat "/proc/$p/comm" 2> /dev/null)" = "$2" ] && echo "$p"
    done
}

# fault_kill_job LAUNCHER [PIDS...]: ends a job that outlived its bound, whole: the
# launcher's children (its mpirun) first, so that none is left behind as an
# orphan, then the launcher and the ranks PIDS.
fault_kill_job() {
    # shellcheck disable=SC2046
    kill -KILL $(ps -o pid= --ppid "$1" 2> /dev/null) "$@" 2> /dev/null
}

# fault_check FILE STDOUT WANT: what a run left. Prints "absent", or
# "STATUS ROWS PRINTED" and exits 0 if FILE is readable by h5py, its status is one
# of WANT (comma-separated) and it holds at least the rows printed on STDOUT
# (csv: every line that is not a header); exits 1 (printing why) otherwise.
fault_check() {
    [ -e "$1" ] || { echo absent; return 0; }
    "$py" - "$1" "$2" "$3" <<'PY'
import sys, h5py
path, out, want = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
printed = 0
with open(out, errors="replace") as f:
    for line in f:
        if line.strip() and not line.startswith(("table,", "#")):
            printed += 1
try:
    with h5py.File(path, "r") as f:
        st = f.attrs.get("status", b"(none)")
        st = st.decode() if isinstance(st, bytes) else str(st)
        prog = f.attrs.get("program", b"")
        prog = (prog.decode() if isinstance(prog, bytes) else str(prog)).split()[0]
        rows = 0
        def count(name, obj):
            global rows
            if isinstance(obj, h5py.Dataset) and obj.dtype.names:
                obj[()]  # every row reads back
                rows += obj.shape[0]
        if prog in f:
            f[prog].visititems(count)
except Exception as e:
    print(f"unreadable: {e}")
    sys.exit(1)
print(st, rows, printed)
if st not in want:
    print(f"status {st}, expected {'/'.join(want)}")
    sys.exit(1)
if rows < printed:
    print(f"{rows} rows in the file but {printed} printed")
    sys.exit(1)
PY
}
