#!/bin/sh
# scripts/mpirun-guard, through tests/launch: an mpirun that outlives its ranks
# (Open MPI 4.1's hang in PMIx finalize after a rank died at start-up) is killed
# once it has had no rank alive for the guard's time, so the launch ends with a
# non-zero status and a message; a launch whose mpirun ends by itself is left
# alone. The stand-in mpirun is a shell script of that name: one "rank" (a child
# that lives 3 s), then it blocks on a FIFO with no child, as the stuck mpirun does.
set -u
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkfifo "$tmp/never"
cat > "$tmp/mpirun" <<SH
#!/bin/sh
sleep 3 &
wait
[ "\${CB_FAKE_HANG:-1}" = 1 ] || exit 5
read -r _ < "$tmp/never"
SH
chmod +x "$tmp/mpirun"
fail=0
# tests/launch gives the guard 10 s, times CB_TEST_TIME_SCALE (scripts/test --sanitize: 4)
guard=$(( 10 * ${CB_TEST_TIME_SCALE:-1} ))

start=$(date +%s)
MPIRUN=$tmp/mpirun CB_TEST_TIMEOUT=60 "$top_srcdir/tests/launch" 2 /bin/true > "$tmp/out" 2> "$tmp/err"
rc=$?
took=$(( $(date +%s) - start ))
echo "stuck mpirun: exit $rc after $took s: $(cat "$tmp/err")"
[ $rc = 137 ] || { echo "FAIL: exit $rc, expected 137 (the stuck mpirun killed)"; fail=1; }
# 3 s of the rank, the guard's wait, its 1-s polls; the launch's own bound is 60 (scaled too)
[ $took -le $((guard + 15)) ] || { echo "FAIL: the launch took $took s"; fail=1; }
grep -q "^mpirun-guard: mpirun (pid [0-9]*) still runs $guard s after its last rank" "$tmp/err" ||
    { echo "FAIL: no message from the guard"; fail=1; }
pgrep -f "$tmp/mpirun" > /dev/null && { echo "FAIL: the stand-in mpirun is left"; pkill -KILL -f "$tmp/mpirun"; fail=1; }

start=$(date +%s)
CB_FAKE_HANG=0 MPIRUN=$tmp/mpirun CB_TEST_TIMEOUT=60 "$top_srcdir/tests/launch" 2 /bin/true > "$tmp/out" 2> "$tmp/err" &
lp=$!
wait $lp
rc=$?
took=$(( $(date +%s) - start ))
echo "mpirun that ends: exit $rc after $took s"
[ $rc = 5 ] || { echo "FAIL: exit $rc, expected the stand-in's own 5"; fail=1; }
[ -s "$tmp/err" ] && { echo "FAIL: unexpected messages:"; cat "$tmp/err"; fail=1; }
# the guard ends with the launch (within its 1-s poll)
sleep 2
pgrep -f "mpirun-guard $lp " > /dev/null && { echo "FAIL: the guard of launch $lp is left running"; fail=1; }
exit $fail
