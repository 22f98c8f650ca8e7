# scripts/common.sh: what run-suite and the Slurm jobs share: where the programs are
# built, and the settings that make Open MPI really run over UCX. Sourced, never run.

# An installed copy (make install) has installed.sh beside this file, naming the folder
# of the programs (cb-hpl, cb-microbench, cb-llm).
CB_BINDIR=""
# shellcheck disable=SC1091
[ -f "$(dirname "${BASH_SOURCE[0]:-$0}")/installed.sh" ] && . "$(dirname "${BASH_SOURCE[0]:-$0}")/installed.sh"

# cb_installed: true in an installed copy, which builds nothing.
cb_installed() { [ -n "$CB_BINDIR" ]; }

# cb_find_build ROOT: print the build folder holding the programs: $CB_BUILDDIR if set,
# else ROOT/build (run-suite's out-of-tree build), else ROOT itself (an in-tree build).
cb_find_build() {
    if [ -n "${CB_BUILDDIR:-}" ]; then
        echo "$CB_BUILDDIR"
    elif [ -f "$1/build/Makefile" ]; then
        echo "$1/build"
    else
        echo "$1"
    fi
}

# cb_program_path BUILD NAME: print BUILD/NAME/NAME if it is built (in an installed
# copy, CB_BINDIR/cb-NAME); false if not.
cb_program_path() {
    if [ -x "$1/$2/$2" ]; then
        echo "$1/$2/$2"
    elif cb_installed && [ -x "$CB_BINDIR/cb-$2" ]; then
        echo "$CB_BINDIR/cb-$2"
    else
        return 1
    fi
}

# cb_ucx_env: Debian's Open MPI turns UCX off by default (pml = ^ucx) and its UCX PML
# refuses machines without RDMA NICs; these make a run go over UCX with any transport
# (for one-sided too). Exported, so srun and mpirun pass them to every rank. A value
# already in the environment (a site's module, the user) is kept.
cb_ucx_env() {
    export OMPI_MCA_pml=${OMPI_MCA_pml:-ucx} OMPI_MCA_pml_ucx_tls=${OMPI_MCA_pml_ucx_tls:-any}
    export OMPI_MCA_pml_ucx_devices=${OMPI_MCA_pml_ucx_devices:-any}
    export OMPI_MCA_osc=${OMPI_MCA_osc:-ucx} OMPI_MCA_osc_ucx_tls=${OMPI_MCA_osc_ucx_tls:-any}
    export OMPI_MCA_osc_ucx_devices=${OMPI_MCA_osc_ucx_devices:-any}
}

# cb_make_progress PREFIX LOG: read make's output (silent rules: "  CC  x.o", "  CCLD  p")
# on stdin, keep it whole in LOG, and print PREFIX lines as it goes: each program linked,
# and the count of files compiled every 10 files, so a long build is never silent.
cb_make_progress() {
    awk -v pfx="$1" -v logf="$2" '
        { print >> logf; fflush(logf) }
        $1 == "CC" { n++; if (n % 10 == 0) { printf "%s: make: %d files compiled\n", pfx, n; fflush() } }
        $1 == "CCLD" { printf "%s: make: %d files compiled, linked %s\n", pfx, n, $2; fflush() }
        / error: |^make.*\*\*\*/ { printf "%s: make: %s\n", pfx, $0; fflush() }'
}

# cb_read_hostfile FILE: parse an Open MPI hostfile ("HOST [slots=N] [max_slots=N]" a line,
# '#' to the end of a line a comment, blank lines, CRLF line ends) into the array cb_hosts
# and the number cb_slots_total (a host without slots= counts one). Hostile input is
# refused, never read for ever: anything but a readable regular file, more than 4 MiB, a
# NUL byte, more than 4096 hosts. On a refusal it returns 1 with cb_hostfile_error set to
# one line (FILE:LINE: what is wrong, the offending word shown printable and at most 64
# characters); the caller prints it. Host names as DNS has them: letters, digits, '-' and
# '.', at most 253 characters, starting with a letter or digit.
# _cb_shown WORD: WORD for cb_read_hostfile's message: control and non-ASCII bytes as '?',
# cut at 64 characters.
_cb_shown() { local LC_ALL=C x; x=${1//[^[:print:]]/?}; [ ${#x} -le 64 ] && echo "$x" || echo "${x:0:61}..."; }

cb_read_hostfile() {
    local f=$1 LC_ALL=C line lineno=0 h w v s n size words
    cb_hosts=(); cb_slots_total=0; cb_hostfile_error=""
    if [ ! -e "$f" ] || { [ -f "$f" ] && [ ! -r "$f" ]; }; then
        cb_hostfile_error="$f: no such readable file"; return 1
    elif [ ! -f "$f" ]; then
        cb_hostfile_error="$f: not a regular file (a directory, a FIFO or a device)"; return 1
    fi
    size=$(wc -c < "$f") || { cb_hostfile_error="$f: cannot be read"; return 1; }
    if [ "$size" -gt 4194304 ]; then
        cb_hostfile_error="$f: $size bytes, more than a hostfile's 4 MiB"; return 1
    fi
    n=$(tr -dc '\000' < "$f" | wc -c)
    if [ "$n" -gt 0 ]; then
        cb_hostfile_error="$f: holds NUL bytes: not a text hostfile"; return 1
    fi
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        line=${line%%#*}
        line=${line%$'\r'}
        read -r -a words <<< "$line"
        [ ${#words[@]} -eq 0 ] && continue
        h=${words[0]}
        if ! [[ $h =~ ^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$ ]]; then
            cb_hostfile_error="$f:$lineno: '$(_cb_shown "$h")' is not a host name"; return 1
        fi
        s=1
        for w in "${words[@]:1}"; do
            case $w in
                slots=*|max_slots=*|max-slots=*)
                    v=${w#*=}
                    if ! [[ $v =~ ^[1-9][0-9]{0,3}$ ]]; then
                        cb_hostfile_error="$f:$lineno: '$(_cb_shown "$w")': slots must be a number from 1 to 9999"; return 1
                    fi
                    [[ $w == slots=* ]] && s=$v ;;
                *) cb_hostfile_error="$f:$lineno: '$(_cb_shown "$w")': expected slots=N or max_slots=N"; return 1 ;;
            esac
        done
        cb_hosts+=("$h"); cb_slots_total=$((cb_slots_total + s))
        if [ ${#cb_hosts[@]} -gt 4096 ]; then
            cb_hostfile_error="$f: more than 4096 hosts"; return 1
        fi
    done < "$f"
    if [ ${#cb_hosts[@]} -eq 0 ]; then
        cb_hostfile_error="$f: names no host"; return 1
    fi
}
