"""Print the tables of docs/window_allcomers.md from the committed JSON results.

``python -m train.window.allcomers_tables`` prints every ``allcomers_*`` table (and the
window models' per-ISA parity) exactly as the page shows them. The renderers live in one
place, ``docs/doctables/allcomers.py``, which ``python docs/tables.py`` also uses to write
and check the page; this module only prints them.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: the page's blocks, in page order
BLOCKS = ("allcomers_targets", "allcomers_hyp_chosen", "allcomers_hyp_baseline",
          "allcomers_hyp_errors", "allcomers_rate_agreement", "allcomers_hyp_candidates",
          "allcomers_findings6_candidates", "allcomers_rules", "allcomers_shipped",
          "isa_parity_window")


def _doctables():
    """``docs/doctables`` (not an installed package: it lives beside the pages it writes)."""
    for p in (str(REPO), str(REPO / "docs")):
        if p not in sys.path:
            sys.path.insert(0, p)
    import doctables

    return doctables


def main() -> int:
    t = _doctables()
    for name in BLOCKS:
        print(f"<!-- {name} -->\n{t.render(name)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
