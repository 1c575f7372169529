"""The thinned waveform format shared by the bedside page and the MQTT wave topic."""

from __future__ import annotations

import base64

import numpy as np

from edge_runtime.web.wave import Thinner, uv16


def test_thinner_keeps_every_step_th_sample_across_odd_blocks():
    x = np.arange(1000.0)
    th = Thinner(360.0, 125.0)
    assert th.step == 3
    out, pos = [], 0
    for n in (1, 2, 7, 100, 3, 5, 882):
        kept, first = th(x[pos:pos + n])
        if kept.size:
            assert kept[0] == pos + first
        out.append(kept)
        pos += n
    assert np.array_equal(np.concatenate(out), x[::3])


def test_uv16_is_little_endian_int16_microvolts_clipped():
    got = np.frombuffer(base64.b64decode(uv16(np.array([0.0, 1.2345, -0.0004, 40.0, -40.0]))),
                        "<i2")
    assert got.tolist() == [0, 1234, 0, 32767, -32767]
