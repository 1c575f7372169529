"""Exact int8 arithmetic on every CPU (issue 15).

onnxruntime's x86 u8s8 kernels saturate pairwise sums at int16 on CPUs with AVX2 but no
VNNI: a MatMulInteger of 255 x 127 over K=64 gives 32 x 32767 = 1048544 instead of
64 x 255 x 127 = 2072640. The runtime's session factory must ask for the exact kernels.
On a VNNI or ARM host the graph is exact either way; run this file under
``qemu-x86_64 -cpu Haswell`` to exercise the saturating path (docs/portability.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_runtime import inference, ort_config
from edge_runtime.inference import _OrtBackend
from edge_runtime.ort_config import ORT_EXACT_INT8, ort_session_config

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

K, N = 64, 8
EXACT = K * 255 * 127  # 2072640; the saturating u8s8 kernel returns 32 * 32767 = 1048544


def matmul_integer_onnx(path: Path) -> Path:
    """y = a (uint8, input) @ b (int8 weights, all 127): the shape of a quantized layer."""
    b = numpy_helper.from_array(np.full((K, N), 127, dtype=np.int8), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
        "u8s8",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, K])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [None, N])],
        initializer=[b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_exact_int8_config_is_off_only_on_avx512_vnni(monkeypatch) -> None:
    assert ORT_EXACT_INT8 == {"session.x64quantprecision": "1"}
    monkeypatch.setattr(ort_config, "_has_avx512_vnni", lambda: False)
    assert ort_session_config() == ORT_EXACT_INT8
    monkeypatch.setattr(ort_config, "_has_avx512_vnni", lambda: True)
    assert ort_session_config() == {}


@pytest.mark.parametrize("forced", [None, "on"])
def test_u8s8_matmul_is_exact_through_the_runtime(tmp_path, monkeypatch, forced) -> None:
    """Exact with the runtime's own choice for this CPU, and with the option forced on."""
    if forced == "on":
        monkeypatch.setattr(inference, "ort_session_config", lambda: dict(ORT_EXACT_INT8))
    backend = _OrtBackend(matmul_integer_onnx(tmp_path / "mm.onnx"), threads=1)
    opts = backend.session.get_session_options()
    if inference.ort_session_config():  # set unless this host has AVX-512 VNNI
        assert opts.get_session_config_entry("session.x64quantprecision") == "1"
    a = np.full((4, K), 255, dtype=np.uint8)
    y = backend.run({"a": a})
    assert y.dtype == np.int32
    assert np.all(y == EXACT), f"got {np.unique(y)} (saturated u8s8 kernel gives 1048544)"


def test_the_graph_reaches_the_int8_kernel(tmp_path, monkeypatch) -> None:
    """Without the option the result is exact on VNNI/ARM and saturated on AVX2-only x86
    (run under qemu-x86_64 -cpu Haswell it is the latter): never anything else."""
    monkeypatch.setattr(inference, "ort_session_config", lambda: {})
    backend = _OrtBackend(matmul_integer_onnx(tmp_path / "mm.onnx"), threads=1)
    y = backend.run({"a": np.full((4, K), 255, dtype=np.uint8)})
    assert set(np.unique(y).tolist()) <= {EXACT, 32 * 32767}


def _qemu_x86() -> str | None:
    import platform
    import shutil

    if platform.machine() != "x86_64":
        return None
    return shutil.which("qemu-x86_64-static") or shutil.which("qemu-x86_64")


@pytest.mark.slow
@pytest.mark.skipif(_qemu_x86() is None,
                    reason="needs qemu-x86_64 (Debian qemu-user-static) on an x86-64 host")
def test_runtime_is_exact_on_an_avx2_only_cpu_under_qemu(tmp_path) -> None:
    """The real AVX2-without-VNNI path: under ``qemu-x86_64 -cpu Haswell`` the plain session
    saturates (proving the emulation reaches that kernel) and the runtime's session is exact."""
    import subprocess
    import sys

    model = matmul_integer_onnx(tmp_path / "mm.onnx")
    code = (
        "import numpy as np, sys\n"
        "from edge_runtime import inference\n"
        "from edge_runtime.inference import _OrtBackend\n"
        "a = {'a': np.full((4, 64), 255, dtype=np.uint8)}\n"
        "print('runtime', int(_OrtBackend(sys.argv[1], threads=1).run(a).max()))\n"
        "inference.ort_session_config = lambda: {}\n"
        "print('plain', int(_OrtBackend(sys.argv[1], threads=1).run(a).max()))\n"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([_qemu_x86(), "-cpu", "Haswell", sys.executable, "-c", code,
                          str(model)], capture_output=True, text=True, timeout=600,
                         cwd=repo, env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    got = dict(line.split() for line in out.stdout.splitlines() if line.strip())
    assert int(got["plain"]) == 32 * 32767  # the saturating AVX2 u8s8 kernel was reached
    assert int(got["runtime"]) == EXACT
