"""scripts/cbresults.py: reading clusterbench results files (schema clusterbench/1,
results/README.md) for summary, compare and plot: root attributes, /ranks, and the
program's tables with the fields that carry their headline figures."""
import h5py
import numpy as np


class ResultsError(Exception):
    """A file that is not a readable clusterbench results file."""


def text(v):
    """An attribute or field value as text (HDF5 strings may come back as bytes)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return text(v[()])
    return str(v)


class Run:
    """One results file, read whole (files are small: one row per measurement)."""

    def __init__(self, path):
        self.path = path
        try:
            with h5py.File(path, "r") as f:
                self.attrs = {k: text(v) if not isinstance(v, (int, float, np.number)) else v
                              for k, v in f.attrs.items()}
                if "program" not in self.attrs:
                    raise ResultsError("no 'program' attribute: not a clusterbench results file")
                self.hosts = []
                if "ranks" in f and f["ranks"].dtype.names and "host" in f["ranks"].dtype.names:
                    self.hosts = sorted({text(h) for h in f["ranks"]["host"]})
                self.tables = {}
                group = f.get(self.program)
                if isinstance(group, h5py.Group):
                    group.visititems(self._collect)
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise ResultsError(str(e)) from e

    def _collect(self, name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.names and obj.ndim == 1:
            self.tables[name] = (obj[()], {k: text(v) for k, v in obj.attrs.items()})

    @property
    def program(self):
        return text(self.attrs.get("program", "?")).split()[0]

    def attr(self, name, default="?"):
        return self.attrs.get(name, default)


def size_field(names):
    for f in ("size_B", "size", "bytes"):
        if f in names:
            return f
    return next((f for f in names if f.startswith("size")), None)


def latency_fields(names):
    """The average-latency field of each transport block: lat_avg_us, or
    <set>_lat_avg_us when a table holds several transports side by side."""
    found = [f for f in names if f == "lat_avg_us" or f.endswith("_lat_avg_us")]
    if not found:
        found = [f for f in names if f.startswith("lat_") and f.endswith("_us")][:1]
    return found


def rate_fields(names):
    """Fields holding a rate to maximise: gflops, bandwidth per transport block, tokens/s."""
    out = []
    for f in names:
        if f.startswith("ratio_"):
            continue
        if (f == "gflops" or f.endswith("_tps") or f == "avg_ts" or f == "bw_MBps"
                or f.endswith("_bw_MBps")):
            out.append(f)
    return out


def row_groups(rows):
    """Rows split by their "test" field (llm bench: pp512, tg128), as (label, rows);
    one unlabelled group when there is no such field."""
    names = rows.dtype.names or ()
    if "test" not in names or rows.dtype["test"].kind not in "SUO":
        return [("", rows)]
    labels = []
    for t in rows["test"]:
        t = text(t)
        if t not in labels:
            labels.append(t)
    return [(t, rows[np.array([text(x) == t for x in rows["test"]])]) for t in labels]
