"""Episode-level alarm benchmark: the shipped runtime on annotated and noise-stressed records
(``ecgedge eval alarms``). Scoring lives in :mod:`edge_runtime.alarm_eval` (numpy only)."""
