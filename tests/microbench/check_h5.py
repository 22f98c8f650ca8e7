"""Read back a microbench results file and check it: the root attributes of
schema clusterbench/1, and for each TABLE[=ROWS] given, /microbench/TABLE
with ROWS rows (if given), units in every field name, sane statistics.
usage: check_h5.py FILE [--ranks N] TABLE[=ROWS] ...   (exit 0 pass, 1 fail)"""
import sys

import h5py
import numpy as np

UNITS = ("_B", "_us", "_MBps", "_per_s", "_pct")


def fail(msg):
    print("check_h5: FAIL: " + msg)
    sys.exit(1)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check_root(f, ranks):
    for name in ("schema", "program", "version", "command_line", "started_utc", "finished_utc",
                 "status", "mpi_library", "mpi_pml", "ucx_version", "hdf5_version", "compiler",
                 "cpu_model"):
        if name not in f.attrs or not text(f.attrs[name]).strip():
            fail("root attribute %s missing or empty" % name)
    if text(f.attrs["schema"]) != "clusterbench/1":
        fail("schema is %s" % text(f.attrs["schema"]))
    if text(f.attrs["program"]) != "microbench":
        fail("program is %s" % text(f.attrs["program"]))
    if text(f.attrs["status"]) != "complete":
        fail("status is %s, not complete" % text(f.attrs["status"]))
    if ranks is not None and int(f.attrs["n_ranks"]) != ranks:
        fail("n_ranks is %s, expected %d" % (f.attrs["n_ranks"], ranks))


def check_table(f, name, rows):
    path = "/microbench/" + name
    if path not in f:
        fail("no table %s" % path)
    d = f[path][...]
    if rows is not None and len(d) != rows:
        fail("%s has %d rows, expected %d" % (path, len(d), rows))
    if len(d) == 0:
        fail("%s is empty" % path)
    for attr in ("transport", "description"):
        if not text(f[path].attrs.get(attr, "")).strip():
            fail("%s has no %s attribute" % (path, attr))
    names = d.dtype.names
    for field in names:
        if not field.endswith("iters") and not field.startswith("ratio_") and not field.endswith(UNITS):
            fail("%s: field %s has no unit in its name" % (path, field))
    iters = [fld for fld in names if fld == "iters" or fld.endswith("_iters")]
    if "size_B" not in names or not iters:
        fail("%s: no size_B or iters field" % path)
    # one iteration count per block of statistics (transport set, algorithm)
    blocks = [fld for fld in names if fld.endswith("lat_avg_us") or fld.endswith("bw_MBps")
              and not fld.endswith("p50_MBps") and not fld.endswith("max_MBps")]
    if len(iters) != len(blocks):
        fail("%s: %d iteration columns for %d blocks" % (path, len(iters), len(blocks)))
    sizes = d["size_B"]
    if np.any(np.diff(sizes) <= 0):
        fail("%s: sizes not increasing: %s" % (path, sizes))
    for fld in iters:
        if np.any(d[fld] <= 0):
            fail("%s: an iteration count (%s) is not positive" % (path, fld))
    for field in names:
        if field == "size_B" or field in iters:
            continue
        v = d[field]
        if field.endswith("_pct"):  # a share (iallreduce's overlap): 0 is a result
            if not np.all(np.isfinite(v)) or np.any(v < 0) or np.any(v > 100):
                fail("%s: %s is not a percentage: %s" % (path, field, v))
            continue
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            fail("%s: %s has a non-positive or non-finite value: %s" % (path, field, v))
    prefixes = sorted({fld[: -len("lat_avg_us")] for fld in names if fld.endswith("lat_avg_us")})
    for p in prefixes:
        mn, p50, p99, mx, avg = (d[p + k] for k in ("lat_min_us", "lat_p50_us", "lat_p99_us",
                                                     "lat_max_us", "lat_avg_us"))
        eps = 1e-9
        if np.any(mn > p50 + eps) or np.any(p50 > p99 + eps) or np.any(p99 > mx + eps):
            fail("%s: %s percentiles out of order" % (path, p or "latency"))
        if np.any(avg < mn - eps) or np.any(avg > mx + eps):
            fail("%s: %s average outside min..max" % (path, p or "latency"))
    return d


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    path, ranks, tables = argv[1], None, []
    args = argv[2:]
    while args:
        a = args.pop(0)
        if a == "--ranks":
            ranks = int(args.pop(0))
        else:
            name, _, rows = a.partition("=")
            tables.append((name, int(rows) if rows else None))
    with h5py.File(path, "r") as f:
        check_root(f, ranks)
        for name, rows in tables:
            check_table(f, name, rows)
    print("check_h5: %s: %d table(s) ok" % (path, len(tables)))


if __name__ == "__main__":
    main(sys.argv)
