"""Compare two ``ecgedge run`` journals record by record, ignoring what may differ between
runs of the same code (wall clock, source path, strip paths).

The behaviour check of a refactor: run the same command on the old and the new code, e.g.

    ecgedge run --record 208 --journal old.jsonl --quiet      # in a checkout of the old commit
    ecgedge run --record 208 --journal new.jsonl --quiet
    python bench/compare_journals.py old.jsonl new.jsonl

Prints the first differing records and "IDENTICAL" or the count; exit 1 if they differ.
"""

from __future__ import annotations

import argparse
import json
import sys

IGNORED = {"wall_time", "source", "strip", "path", "files", "png"}


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [{k: v for k, v in json.loads(line).items() if k not in IGNORED}
                for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench compare_journals",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("old", help="journal of the reference run")
    ap.add_argument("new", help="journal of the run to check")
    ap.add_argument("--show", type=int, default=5, help="differing records to print")
    a = ap.parse_args(argv)
    old, new = load(a.old), load(a.new)
    diffs = 0
    for i, (x, y) in enumerate(zip(old, new, strict=False)):  # lengths compared below
        if x == y:
            continue
        diffs += 1
        if diffs <= a.show:
            keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            print(f"record {i} ({x.get('event')}): differs in {', '.join(keys)}")
    if len(old) != len(new):
        print(f"length differs: {len(old)} vs {len(new)} records")
    same = diffs == 0 and len(old) == len(new)
    print(f"{a.new}: " + ("IDENTICAL" if same else f"{diffs} differing records"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
