#!/bin/bash
# run-suite's hostfile parser (cb_read_hostfile in scripts/common.sh) on hostile files:
# the fuzz corpus replayed against the reference parser of tests/scripts/fuzz_hostfile.py
# (scripts/fuzz runs it for minutes), then the files no mutation makes: too large, a
# FIFO, a directory, escape sequences in a word, the host cap, CRLF line ends.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/scripts/common.sh"

"$PYTHON3" "$top_srcdir/tests/scripts/fuzz_hostfile.py" --replay "$top_srcdir/tests/scripts/fuzz/corpus" \
    --artifact-prefix "$tmp/failed-" > "$tmp/replay.out" || { cat "$tmp/replay.out" >&2; fail "corpus replay"; }
note "corpus: $(sed -n 's/^stat::number_of_executed_units: //p' "$tmp/replay.out") inputs agree with the reference"

# refused FILE PATTERN: cb_read_hostfile refuses FILE within 10 s, saying PATTERN in one printable line.
refused() {
    local t0=$SECONDS
    cb_read_hostfile "$1" && fail "$1: accepted"
    [ $((SECONDS - t0)) -le 10 ] || fail "$1: took $((SECONDS - t0)) s to be refused"
    case $cb_hostfile_error in *"$2"*) ;; *) fail "$1: said '$cb_hostfile_error', expected '$2'" ;; esac
    LC_ALL=C grep -q '[^[:print:]]' <<< "$cb_hostfile_error" && fail "$1: message has unprintable bytes"
    note "ok: refused: $cb_hostfile_error"
}

head -c $((5 << 20)) /dev/zero | tr '\0' 'a' > "$tmp/huge"
refused "$tmp/huge" "more than a hostfile's 4 MiB"
mkfifo "$tmp/fifo"
refused "$tmp/fifo" "not a regular file"
refused "$tmp" "not a regular file"
refused /dev/null "not a regular file"
refused "$tmp/absent" "no such readable file"
printf 'node1 slots=2\nnode2 \033[2Jslots=1\n' > "$tmp/escape"
refused "$tmp/escape" ":2: '?[2Jslots=1': expected slots=N"
printf 'node1\0slots=2\n' > "$tmp/nul"
refused "$tmp/nul" "NUL bytes"
printf '%0300d slots=1\n' 7 > "$tmp/long-word"
refused "$tmp/long-word" "...' is not a host name"
for i in $(seq 1 4096); do echo "h$i slots=2"; done > "$tmp/cap"
cb_read_hostfile "$tmp/cap" || fail "4096 hosts refused: $cb_hostfile_error"
[ "${#cb_hosts[@]}" = 4096 ] && [ "$cb_slots_total" = 8192 ] || fail "4096 hosts read as ${#cb_hosts[@]}, $cb_slots_total slots"
echo "h4097" >> "$tmp/cap"
refused "$tmp/cap" "more than 4096 hosts"

printf 'mac1 slots=2\r\nmac2.local  slots=1 max_slots=4\r\n# spare\r\nmac3\r\n' > "$tmp/crlf"
cb_read_hostfile "$tmp/crlf" || fail "a CRLF hostfile refused: $cb_hostfile_error"
[ "${cb_hosts[*]}" = "mac1 mac2.local mac3" ] && [ "$cb_slots_total" = 4 ] ||
    fail "a CRLF hostfile read as '${cb_hosts[*]}', $cb_slots_total slots"
note "ok: CRLF: ${cb_hosts[*]}, $cb_slots_total slots"
