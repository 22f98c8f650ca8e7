#!/bin/sh
# Hostile model files at scale: a GGUF of a million metadata keys whose last
# repeats the first is refused as a duplicate, and one with a million distinct
# keys is read, each within a minute (the duplicate checks are hashed: a
# quadratic check would take hours); a FIFO, a directory and a device given as
# the model are refused at once instead of waiting to be read.
set -u
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
py=${PYTHON3:-/usr/bin/python3}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
# bounded: a hang is a failure, not a stuck suite
run() { timeout -k 5 60 "$launch" 1 "$bin" inspect -q --no-output -m "$@"; }
"$py" - "$tmp" <<'PY'
import struct, sys
d = sys.argv[1]
def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b
n = 1000000
body = b"".join(s("k.%d" % i) + struct.pack("<II", 4, i) for i in range(n))
for name, last in (("dup", "k.0"), ("many", "k.last")):
    with open("%s/%s.gguf" % (d, name), "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, n + 1) + body + s(last) + struct.pack("<II", 4, 7))
PY
run "$tmp/dup.gguf" > /dev/null 2> "$tmp/err"; rc=$?
[ $rc = 124 ] || [ $rc = 137 ] && { echo "FAIL: a million keys with a duplicate: no verdict within 60 s"; fail=1; }
grep -q "duplicate metadata key k.0" "$tmp/err" || { echo "FAIL: the duplicate key is not named:"; cat "$tmp/err"; fail=1; }
run "$tmp/many.gguf" > /dev/null 2> "$tmp/err"; rc=$?
[ $rc = 124 ] || [ $rc = 137 ] && { echo "FAIL: a million distinct keys: no verdict within 60 s"; fail=1; }
grep -q "duplicate" "$tmp/err" && { echo "FAIL: distinct keys taken for duplicates:"; cat "$tmp/err"; fail=1; }
echo "a million keys: duplicate named, distinct ones read ($(head -n 1 "$tmp/err"))"
mkfifo "$tmp/fifo" || exit 77
for f in "$tmp/fifo" "$tmp" /dev/zero; do
    timeout -k 5 20 "$launch" 2 "$bin" inspect -q --no-output -m "$f" > /dev/null 2> "$tmp/err"; rc=$?
    case $rc in 0|124|137) echo "FAIL: $f given as a model: exit $rc"; fail=1 ;; esac
    grep -q "not a regular file" "$tmp/err" || { echo "FAIL: $f: no 'not a regular file' message:"; cat "$tmp/err"; fail=1; }
done
echo "a FIFO, a directory and a device are refused"
exit $fail
