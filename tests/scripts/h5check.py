"""tests/scripts/h5check.py FILE [--program P] [--ranks N] [--hosts K] [--latency-us]:
assert on a clusterbench results file: status complete, the program, the rank count,
ranks on at least K distinct hosts (from /ranks). --latency-us prints the smallest
MPI ping-pong latency of the smallest message (microbench's latency table).
Exit 1 with one line on the first failed assertion."""
import argparse
import sys

import h5py
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def fail(msg):
    print(f"h5check: {msg}", file=sys.stderr)
    sys.exit(1)


def latency_table(f):
    """microbench's MPI ping-pong table: a compound dataset whose path names latency
    and not ucx, with a latency field in microseconds."""
    found = []
    f.visititems(lambda name, obj: found.append((name, obj))
                 if isinstance(obj, h5py.Dataset) and obj.dtype.names else None)
    for name, ds in found:
        if "latency" in name.split("/")[-1] and "ucx" not in name:
            return name, ds
    fail(f"no latency table among {[n for n, _ in found]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--program")
    ap.add_argument("--ranks", type=int)
    ap.add_argument("--hosts", type=int)
    ap.add_argument("--latency-us", action="store_true")
    a = ap.parse_args()
    try:
        f = h5py.File(a.file, "r")
    except OSError as e:
        fail(f"{a.file}: {e}")
    status = text(f.attrs.get("status", "?"))
    if status != "complete":
        fail(f"{a.file}: status {status}, not complete")
    if a.program and text(f.attrs.get("program", "?")).split()[0] != a.program:
        fail(f"{a.file}: program {text(f.attrs.get('program'))}, not {a.program}")
    ranks = f["ranks"][()]
    if a.ranks is not None and len(ranks) != a.ranks:
        fail(f"{a.file}: {len(ranks)} rows in /ranks, expected {a.ranks}")
    hosts = sorted({text(h) for h in ranks["host"]})
    if a.hosts is not None and len(hosts) < a.hosts:
        fail(f"{a.file}: ranks on {len(hosts)} host(s) {hosts}, expected at least {a.hosts}")
    if a.latency_us:
        name, ds = latency_table(f)
        rows = ds[()]
        names = rows.dtype.names
        size = next((n for n in names if n.startswith("size")), None)
        lat = next((n for n in ("lat_min_us", "lat_p50_us", "lat_avg_us") if n in names), None)
        if size is None or lat is None:
            fail(f"{name}: no size or latency field in {names}")
        small = rows[rows[size] == rows[size].min()]
        print(f"{float(np.min(small[lat])):.2f}")
    else:
        print(f"{a.file}: {text(f.attrs['program'])} complete, {len(ranks)} ranks on {' '.join(hosts)}")


main()
