"""Causal streaming R-peak detection.

``StreamingDetector(fs).push(block) -> list[Beat]`` finds QRS complexes in raw samples as they
arrive, with a bounded decision delay; see :mod:`edge_runtime.detect.streaming` for the method.
"""

from edge_runtime.detect.streaming import Beat, DetectorConfig, StreamingDetector, detect_record

__all__ = ["Beat", "DetectorConfig", "StreamingDetector", "detect_record"]
