"""Print the tables of docs/beats_crossdb.md from ``docs/results/beats_crossdb.json``.

``python -m train.beats.crossdb_tables`` prints every ``beats_crossdb_*`` table (targets, CV
ablation, DS2 and cross-database rows, fold-member spread, per-record DS2 errors) exactly as
the page shows them. The renderers live in one place, ``docs/doctables/beats.py``, which
``python docs/tables.py`` also uses to write and check the page; this module only prints them.
"""

from __future__ import annotations

from train.doc_blocks import print_blocks

#: the page's blocks, in page order
BLOCKS = ("beats_crossdb_headline", "beats_crossdb_rows", "beats_crossdb_ablation",
          "beats_crossdb_final", "beats_crossdb_spread", "beats_crossdb_errors")


def main() -> int:
    return print_blocks(BLOCKS)


if __name__ == "__main__":
    raise SystemExit(main())
