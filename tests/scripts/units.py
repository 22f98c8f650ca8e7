"""tests/scripts/units.py README FILE.h5...: every numeric field of every table in the
files ends with a unit suffix of results/README.md, or is one of the exceptions its
`<!-- units: ... -->` line lists (a trailing * matches a prefix, a leading * a suffix). String fields are
text. Exit 1 naming each field that breaks the rule."""
import re
import sys

import h5py

SUFFIXES = ("_s", "_ms", "_us", "_ns", "_B", "_MBps", "_GBps", "gflops", "_Gops", "_tps", "_per_s", "_us_per_tok", "_pct")


def exceptions(readme):
    m = re.search(r"<!-- units: ([^>]*) -->", open(readme).read())
    if not m:
        sys.exit(f"units: {readme} has no '<!-- units: ... -->' line")
    return m.group(1).split()


def allowed(name, exc):
    if name.endswith(SUFFIXES):
        return True
    return any(name == e or (e.endswith("*") and name.startswith(e[:-1]))
               or (e.startswith("*") and name.endswith(e[1:])) for e in exc)


def main(argv):
    exc = exceptions(argv[1])
    bad, seen = [], 0
    for path in argv[2:]:
        with h5py.File(path, "r") as f:
            def check(name, obj):
                nonlocal seen
                if isinstance(obj, h5py.Dataset) and obj.dtype.names:
                    for field in obj.dtype.names:
                        seen += 1
                        if obj.dtype[field].kind in "SUO":
                            continue
                        if not allowed(field, exc):
                            bad.append(f"{path}:/{name}.{field}")
            f.visititems(check)
    for b in bad:
        print(f"units: {b}: no unit suffix and not among results/README.md's exceptions", file=sys.stderr)
    print(f"units: {seen} fields checked, {len(bad)} without a unit")
    return 1 if bad or seen == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
