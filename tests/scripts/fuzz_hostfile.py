#!/usr/bin/python3
"""Fuzz scripts/common.sh's cb_read_hostfile, the hostfile parser of run-suite.

libFuzzer cannot instrument a shell function, so this is a mutation fuzzer of
its own, checked against a reference: each input is parsed by the shell
function (in a long-lived bash that forks a subshell per input) and by
`reference` below, a second reading of the same grammar written from the
function's comment, not from its code. An input fails when

  - the two disagree: one accepts and the other refuses, or both accept with
    other hosts or another slot count, or both refuse for other reasons or on
    another line;
  - the shell printed anything on stderr (a bash error or warning), or its
    message is not one printable line;
  - the shell took more than --timeout seconds (a hang).

A failing input is written to ARTIFACT_PREFIX + its SHA-1 and the run exits 1.
Inputs that give an outcome not seen before (refusal kind, line bucket, host
count bucket) join the working corpus, so mutations reach further.

  fuzz_hostfile.py --minutes M [--corpus DIR]... [--work DIR] [--artifact-prefix P] [--seed S]
  fuzz_hostfile.py --replay FILE_OR_DIR...      (make check: every input once)

It prints libFuzzer's final counters (stat::number_of_executed_units: N), so
that scripts/fuzz reads both kinds of target alike.
"""
import argparse
import hashlib
import os
import random
import re
import select
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMON = os.path.join(TOP, "scripts", "common.sh")
MAX_BYTES = 4 * 1024 * 1024
MAX_HOSTS = 4096

HOST = re.compile(rb"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
SLOTS = re.compile(rb"[1-9][0-9]{0,3}")


def reference(data):
    """('ok', hosts, slots) or ('refused', kind, line) for a hostfile's bytes."""
    if len(data) > MAX_BYTES:
        return ("refused", "size", 0)
    if b"\0" in data:
        return ("refused", "nul", 0)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line starts no line
    hosts, slots = [], 0
    for n, line in enumerate(lines, 1):
        line = line.split(b"#", 1)[0]
        if line.endswith(b"\r"):
            line = line[:-1]
        words = [w for w in re.split(rb"[ \t]+", line) if w]
        if not words:
            continue
        if not HOST.fullmatch(words[0]):
            return ("refused", "host", n)
        count = 1
        for w in words[1:]:
            key, eq, value = w.partition(b"=")
            if not eq or key not in (b"slots", b"max_slots", b"max-slots"):
                return ("refused", "word", n)
            if not SLOTS.fullmatch(value):
                return ("refused", "slots", n)
            if key == b"slots":
                count = int(value)
        hosts.append(words[0])
        slots += count
        if len(hosts) > MAX_HOSTS:
            return ("refused", "many", 0)
    if not hosts:
        return ("refused", "none", 0)
    return ("ok", hosts, slots)


# The shell's messages, by kind, and whether they name a line.
KINDS = [("size", r"bytes, more than a hostfile's 4 MiB$"), ("nul", r": holds NUL bytes"),
         ("host", r"' is not a host name$"), ("slots", r"': slots must be a number"),
         ("word", r"': expected slots=N or max_slots=N$"), ("many", r": more than 4096 hosts$"),
         ("none", r": names no host$")]


class Shell:
    """A bash that reads paths on stdin and parses each in a subshell."""
    LOOP = r'''
. "$1"
while IFS= read -r f; do
    ( cb_read_hostfile "$f"; rc=$?
      printf 'R\t%s\t%s\t%s\t%s\t%s\n' "$rc" "${#cb_hosts[@]}" "$cb_slots_total" "${cb_hosts[*]}" "$cb_hostfile_error" ) 2>"$f.err"
done
'''

    def __init__(self):
        self.p = subprocess.Popen(["bash", "-c", self.LOOP, "fuzz", COMMON], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.buf = b""

    def parse(self, path, timeout):
        """(rc, n, slots, hosts, error, stderr) or None when no answer came in time."""
        self.p.stdin.write(path.encode() + b"\n")
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        with open(path + ".err", "rb") as e:
            err = e.read()
        fields = line.split(b"\t")
        if len(fields) != 6 or fields[0] != b"R":
            return (-1, 0, 0, b"", line, err)
        return (int(fields[1]), int(fields[2]), int(fields[3]), fields[4], fields[5], err)

    def close(self):
        self.p.kill()
        self.p.wait()


def judge(data, got):
    """None if the shell's answer is right for data, else why not."""
    if got is None:
        return "no answer in time (a hang)"
    rc, n, slots, hosts, error, err = got
    if err:
        return "stderr: %r" % err[:200]
    want = reference(data)
    if rc == 0:
        if want[0] != "ok":
            return "accepted; the reference refuses (%s, line %d)" % (want[1], want[2])
        if hosts.split(b" ") != want[1] or n != len(want[1]) or slots != want[2]:
            return "accepted %d hosts, %d slots; the reference %d, %d" % (n, slots, len(want[1]), want[2])
        return None
    if rc != 1:
        return "exit %d" % rc
    msg = error.decode("ascii", "replace")
    if not error or any(c < 0x20 or c > 0x7e for c in error):
        return "message not one printable line: %r" % error[:200]
    if want[0] == "ok":
        return "refused (%s); the reference accepts %d hosts" % (msg, len(want[1]))
    kind = next((k for k, pat in KINDS if re.search(pat, msg)), None)
    if kind != want[1]:
        return "refused as %s (%s); the reference as %s" % (kind, msg, want[1])
    m = re.match(r".*?:(\d+): ", msg)
    line = int(m.group(1)) if m and kind in ("host", "word", "slots") else 0
    if line != want[2]:
        return "refused on line %d; the reference on line %d" % (line, want[2])
    return None


TOKENS = [b"slots=", b"max_slots=", b"max-slots=", b"slots=1", b"slots=9999", b"slots=10000", b"slots=0",
          b"slots=-1", b"slots=01", b"=", b"#", b"\n", b"\r\n", b"\r", b" ", b"\t", b"\v", b"\f", b"localhost",
          b"node-1.example.org", b"-host", b".", b"a" * 253, b"b" * 254, b"\0", b"\xff", b"\xc3\xa9", b"\x1b[2J",
          b"$(id)", b"`id`", b"*", b"\\", b"'", b'"', b"${x}", b"slots=1 slots=2", b"\xe2\x80\x83"]


def mutate(rng, data, corpus):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        at = rng.randint(0, len(data))
        if op == 0 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[at:at] = bytes([rng.randrange(256)])
        elif op == 2:
            data[at:at] = rng.choice(TOKENS)
        elif op == 3 and data:
            del data[at:at + rng.randint(1, 16)]
        elif op == 4 and data:
            a = rng.randrange(len(data))
            data[at:at] = data[a:a + rng.randint(1, 64)]
        elif op == 5:
            other = rng.choice(corpus)
            a = rng.randint(0, len(other))
            data[at:] = other[a:]
        elif op == 6 and rng.random() < 0.02:
            # many lines: over the host cap, or comments and blanks around it
            line = rng.choice([b"h%d\n", b"n%d slots=2\n", b"# c%d\n", b"\n"])
            data += b"".join(line.replace(b"%d", str(i).encode()) if b"%d" in line else line
                             for i in range(rng.choice([MAX_HOSTS - 1, MAX_HOSTS, MAX_HOSTS + 1, 5000])))
        elif op == 7:
            w = rng.choice(TOKENS)
            data[at:at] = w * rng.randint(1, 8)
    return bytes(data[:256 * 1024])


def signature(data):
    want = reference(data)
    if want[0] == "ok":
        return ("ok", min(len(want[1]), 10), min(want[2], 20))
    return ("refused", want[1], min(want[2], 10))


def inputs_of(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if os.path.isfile(os.path.join(p, name)):
                    yield os.path.join(p, name)
        elif os.path.isfile(p):
            yield p


def main():
    ap = argparse.ArgumentParser(description="fuzz cb_read_hostfile against a reference parser")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--work", default="")
    ap.add_argument("--artifact-prefix", default="./crash-")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--replay", nargs="+", default=None)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="cb-fuzz-hostfile.")
    path = os.path.join(tmp, "hostfile")
    sh = Shell()
    runs, bad = 0, 0

    def check(data, name):
        nonlocal runs, bad, sh
        with open(path, "wb") as f:
            f.write(data)
        got = sh.parse(path, a.timeout)
        if got is None:  # a shell that hung answers nothing more
            sh.close()
            sh = Shell()
        runs += 1
        why = judge(data, got)
        if why:
            bad += 1
            art = a.artifact_prefix + hashlib.sha1(data).hexdigest()
            with open(art, "wb") as f:
                f.write(data)
            print("fuzz_hostfile: %s: %s (kept as %s)" % (name, why, art), file=sys.stderr)
        return got

    try:
        if a.replay is not None:
            for p in inputs_of(a.replay):
                with open(p, "rb") as f:
                    check(f.read(), p)
        else:
            rng = random.Random(a.seed)
            corpus = [open(p, "rb").read() for p in inputs_of(a.corpus + ([a.work] if a.work else []))]
            corpus = corpus or [b"localhost slots=2\n"]
            seen = {signature(d) for d in corpus}
            end = time.monotonic() + a.minutes * 60
            while time.monotonic() < end and bad < 10:
                data = mutate(rng, rng.choice(corpus), corpus)
                got = check(data, "input %d" % runs)
                sig = signature(data)
                if sig not in seen and got is not None:
                    seen.add(sig)
                    corpus.append(data)
                    if a.work:
                        os.makedirs(a.work, exist_ok=True)
                        with open(os.path.join(a.work, hashlib.sha1(data).hexdigest()), "wb") as f:
                            f.write(data)
    finally:
        sh.close()
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    print("stat::number_of_executed_units: %d" % runs)
    print("stat::failing_inputs: %d" % bad)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
