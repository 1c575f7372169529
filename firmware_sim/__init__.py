"""Simulated acquisition device: replays WFDB records over the ecgedge wire protocol.

Public API (used by ``ecgedge demo`` and the bedside runtime's tests):
:class:`SimDevice` (``run(write, stop_event)`` / ``frames()``), :func:`open_pty`,
:func:`parse_faults`, and the outputs in :mod:`firmware_sim.ports`.
"""

from firmware_sim.device import Chunk, SimDevice, Truth
from firmware_sim.faults import FaultConfig, parse_faults
from firmware_sim.ports import PtyOutput, StreamOutput, TcpOutput, open_pty

__all__ = [
    "Chunk",
    "FaultConfig",
    "PtyOutput",
    "SimDevice",
    "StreamOutput",
    "TcpOutput",
    "Truth",
    "open_pty",
    "parse_faults",
]
