"""onnxruntime session settings that make int8 models decide the same on every CPU.

onnxruntime picks its int8 GEMM kernel by instruction set. On x86-64 CPUs with AVX2 (or
AVX-512) but no VNNI, the default u8s8 kernels add pairs of u8*s8 products into a
saturating int16 (vpmaddubsw): a MatMulInteger of 255 x 127 over K=64 gives 1048544 instead
of 2072640, and the shipped beat model agreed with fp32 on 96.3 % of DS2 beats on such a
host vs 99.4 % elsewhere (issue 15). The session option below selects exact kernels there.
AVX-512 VNNI kernels (vpdpbusd) and ARM kernels are exact already (docs/portability.md).
"""

from __future__ import annotations

#: exact u8u8 kernels on x86-64 without VNNI (ARM builds ignore the key)
ORT_EXACT_INT8: dict[str, str] = {"session.x64quantprecision": "1"}


def cpu_features() -> dict[str, bool]:
    """The CPU's instruction-set flags from numpy's CPUID (x86) / HWCAP (aarch64) probe, which
    under QEMU reports the emulated CPU. Private numpy API: ``{}`` if it is not there."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:
        try:  # numpy < 2
            from numpy.core._multiarray_umath import __cpu_features__ as feats
        except ImportError:
            return {}
    return dict(feats)


def _has_avx512_vnni() -> bool:
    """Any failure of the probe counts as "no VNNI" (the exact option then goes on)."""
    return bool(cpu_features().get("AVX512VNNI"))


def ort_session_config() -> dict[str, str]:
    """Session config entries for exact int8 on this CPU.

    Everywhere but AVX-512 VNNI x86 this is :data:`ORT_EXACT_INT8`. AVX-512 VNNI kernels
    (vpdpbusd) are already exact, and there the option changes no output bit (the shipped
    models' logits on their full test splits are identical with and without it) but costs
    1.2-1.7x latency (docs/results/isa_parity.json), so it is left off.
    """
    return {} if _has_avx512_vnni() else dict(ORT_EXACT_INT8)
