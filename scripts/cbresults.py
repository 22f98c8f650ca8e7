"""scripts/cbresults.py: reading clusterbench results files (schema clusterbench/1,
results/README.md) for summary, compare and plot: root attributes, /ranks, and the
program's tables with the fields that carry their headline figures."""
import errno
import fcntl
import os
import socket

import h5py
import numpy as np

# The byte past the end of the file that the writer (rank 0) keeps locked while it
# writes (common/cb_results.c, writer_lock): the lock dies with the process.
WRITER_LOCK_OFFSET = 1 << 40


class ResultsError(Exception):
    """A file that is not a readable clusterbench results file."""


def text(v):
    """An attribute or field value as text (HDF5 strings may come back as bytes)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return text(v[()])
    return str(v)


def writer_alive(path, attrs):
    """Whether the process writing a "running" file is still there: False when the
    writer lock is free or writer_pid is gone from this host, True when the lock
    is held, None when this cannot be told (no lock support, another host)."""
    try:
        with open(path, "rb") as f:
            try:
                fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, WRITER_LOCK_OFFSET)
            except OSError as e:
                if e.errno in (errno.EACCES, errno.EAGAIN):
                    return True
                raise
            fcntl.lockf(f, fcntl.LOCK_UN, 1, WRITER_LOCK_OFFSET)
    except OSError:
        pass
    else:
        if "writer_pid" in attrs:
            return False  # a writer that took the lock would still hold it
    host, pid = attrs.get("writer_host"), attrs.get("writer_pid")
    if host is None or pid is None or text(host) != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


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
                if text(self.attrs.get("status", "")) == "running" and writer_alive(path, self.attrs) is False:
                    # the writer was killed (or its node lost) before it could mark the file
                    self.attrs["status_recorded"] = "running"
                    self.attrs["status"] = "writer died"
                self.hosts = []
                if "ranks" in f and f["ranks"].dtype.names and "host" in f["ranks"].dtype.names:
                    self.hosts = sorted({text(h) for h in f["ranks"]["host"]})
                self.env = {}
                if isinstance(f.get("env"), h5py.Group):
                    self.env = {k: text(v) for k, v in f["env"].attrs.items()}
                self.host_rows = f["hosts"][()] if isinstance(f.get("hosts"), h5py.Dataset) else None
                self.tables = {}
                group = f.get(self.program)
                if isinstance(group, h5py.Group):
                    group.visititems(self._collect)
                if not self.tables:
                    # A file whose tables are not under /<program> (a test's own).
                    f.visititems(lambda n, o: None if n.split("/")[0] in ("ranks", "hosts", "env")
                                 else self._collect(n, o))
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

    def host_lines(self):
        """One short line per host: name, CPU, cores, memory (from /hosts), else the
        root cpu_model."""
        rows = self.host_rows
        if rows is None or not rows.dtype.names:
            cpu = self.attrs.get("cpu_model")
            return [text(cpu)] if cpu else []
        alike = {}  # description -> hosts, so that identical nodes take one line
        for r in rows:
            n = r.dtype.names
            cores = f", {int(r['n_cores'])} cores" if "n_cores" in n else ""
            pus = f"/{int(r['n_pus'])} threads" if "n_pus" in n and int(r["n_pus"]) != int(r["n_cores"]) else ""
            mem = f", {fmt_size(int(r['mem_total_B']))}" if "mem_total_B" in n else ""
            alike.setdefault(f"{text(r['cpu_model'])}{cores}{pus}{mem}", []).append(text(r["host"]))
        out = []
        for desc, hosts in alike.items():
            names = " ".join(hosts[:4]) + (f" ... ({len(hosts)} hosts)" if len(hosts) > 4 else "")
            out.append(f"{names}: {desc}")
        return out


def fmt_size(n):
    """Bytes as people write them: 8 B, 16 KiB, 1 MiB, 1.5 GiB."""
    n = int(n)
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            v = n / k
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.3g} {unit}"
    return f"{n} B"


def fmt_num(v):
    """A figure with 3 to 4 significant digits, in plain notation where it reads well."""
    v = float(v)
    if v == 0 or not np.isfinite(v):
        return f"{v:g}"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return f"{v:.3e}"
    if a >= 1000:
        return f"{v:.0f}"
    return f"{v:.4g}" if a >= 1 else f"{v:.3g}"


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
