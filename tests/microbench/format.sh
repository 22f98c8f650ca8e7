#!/bin/sh
# --format csv and json print the same rows with the HDF5 field names;
# --time-per-size runs (its count comes from the warm-up, so it is not checked).
. "$top_srcdir/tests/microbench/lib.sh"
mb_ok csv 2 -m 0:8 --iters 3 --format csv --no-output latency bw
mb_ok json 2 -m 0:8 --iters 3 --format json --no-output latency bw
mb_ok timed 2 -m 8:8 --time-per-size 0.05 --warmup 20 -o "$tmp/timed.h5" latency
"$PYTHON3" - "$tmp" <<'PY' || fail "csv/json/time-per-size output"
import csv, json, sys, h5py
tmp = sys.argv[1]
rows = list(csv.reader(open(tmp + "/csv.out")))
lat = [r for r in rows if r[0] == "latency"]
head = [r for r in rows if r[0] == "table"]
assert head and head[0][1:3] == ["size_B", "lat_avg_us"], head
assert [int(r[1]) for r in lat] == [0, 1, 2, 4, 8], lat
assert all(float(r[2]) > 0 for r in lat)
objs = [json.loads(l) for l in open(tmp + "/json.out") if l.strip()]
assert [o["size_B"] for o in objs if o["table"] == "latency"] == [0, 1, 2, 4, 8], objs
assert [o["size_B"] for o in objs if o["table"] == "bw"] == [1, 2, 4, 8], objs
assert all(o["bw_MBps"] > 0 and o["msg_rate_per_s"] > 0 for o in objs if o["table"] == "bw")
assert not any(l.startswith("#") for l in open(tmp + "/json.out"))
# the count depends on this host's speed and load: only its presence is checked
d = h5py.File(tmp + "/timed.h5")["/microbench/latency"]
assert len(d) == 1 and d["iters"][0] >= 1, d["iters"]
PY
echo PASS
