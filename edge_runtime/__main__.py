"""``python -m edge_runtime`` is the ``ecgedge`` command."""

from edge_runtime.cli import main

raise SystemExit(main())
