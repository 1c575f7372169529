"""Causal streaming R-peak detection.

``StreamingDetector(fs).push(block) -> list[Beat]`` finds QRS complexes in raw samples as they
arrive, with a bounded decision delay; see :mod:`edge_runtime.detect.streaming` for the method.
Modules: ``config`` (``Beat``, ``DetectorConfig``, constants), ``frontend`` (per-sample filters,
slope energy, integrator, candidates, R-peak placement; numpy or the numba ``_kernel``),
``amplitude`` (the 2**k input scale), ``streaming`` (``StreamingDetector``: thresholds,
T-wave rule, search-back, emission; ``detect_record``).
"""

from edge_runtime.detect.streaming import Beat, DetectorConfig, StreamingDetector, detect_record

__all__ = ["Beat", "DetectorConfig", "StreamingDetector", "detect_record"]
