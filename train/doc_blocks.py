"""Print results blocks of the docs from the committed JSON (the study commands' table view).

The renderers live in one place, ``docs/doctables`` (``python docs/tables.py`` writes and
checks the pages with them); a study's ``*_tables`` module only names its page's blocks and
calls :func:`print_blocks`, so what a study prints is exactly what its page shows.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def print_blocks(blocks: Sequence[str]) -> int:
    """Render and print each named block; ``docs/doctables`` is not an installed package (it
    lives beside the pages it writes), so it is imported from the checkout."""
    for p in (str(REPO), str(REPO / "docs")):
        if p not in sys.path:
            sys.path.insert(0, p)
    import doctables

    for name in blocks:
        print(f"<!-- {name} -->\n{doctables.render(name)}\n")
    return 0
