"""Render or check every results table of README.md and docs/*.md from docs/results/*.json.

    python docs/tables.py --check   # exit 1 and a diff when a page differs from its JSON
    python docs/tables.py --write   # rewrite every results block in place
    python docs/tables.py --list    # the table names, the JSON each reads, the page it is on

How it works and how to add a table for a new JSON file: ``docs/doctables/__init__.py``.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # the repository (train.alarms) and doctables

from doctables import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
