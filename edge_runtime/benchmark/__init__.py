"""Device-side benchmarks that ship inside the package.

``ecgedge bench pipeline`` answers a device owner's question on their own box (x real time,
per-beat latency, peak RSS), so its code lives here and works from an installed wheel; the
repository's ``bench/pipeline.py`` is a thin wrapper around it. The other benchmarks in
``bench/`` compare detectors or training choices and need a checkout.
"""
