"""End-to-end bedside pipeline on whole MIT-BIH records: x real time, latency, RSS.

The code lives in :mod:`edge_runtime.benchmark.pipeline` so that ``ecgedge bench pipeline``
works from an installed wheel (a device owner's own box); this script runs it from a
checkout, with the same options (``--help``):

    python bench/pipeline.py [--records 100,101] [--variants int8,fp32,none] [--data-dir D]
    python bench/pipeline.py --rss     # peak RSS of `ecgedge run` (record/live) + import costs
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge_runtime.benchmark.pipeline import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
