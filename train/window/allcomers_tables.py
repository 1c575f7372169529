"""Print the tables of docs/window_allcomers.md from the committed JSON results.

``python -m train.window.allcomers_tables`` prints every ``allcomers_*`` table (and the
window models' per-ISA parity) exactly as the page shows them. The renderers live in one
place, ``docs/doctables/allcomers.py``, which ``python docs/tables.py`` also uses to write
and check the page; this module only prints them.
"""

from __future__ import annotations

from train.doc_blocks import print_blocks

#: the page's blocks, in page order
BLOCKS = ("allcomers_targets", "allcomers_hyp_chosen", "allcomers_hyp_baseline",
          "allcomers_hyp_errors", "allcomers_rate_agreement", "allcomers_hyp_candidates",
          "allcomers_findings6_candidates", "allcomers_rules", "allcomers_shipped",
          "isa_parity_window")


def main() -> int:
    return print_blocks(BLOCKS)


if __name__ == "__main__":
    raise SystemExit(main())
