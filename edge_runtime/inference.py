"""Loading deployed model artifacts (.onnx, .tflite) and their model cards on the device.

A model artifact is only usable together with its *model card*: the JSON object that says
which classes the outputs are, which inputs (shape, order) the model takes, the sample rate,
leads, window and normalisation the training pipeline used, and how to turn the logits into
probabilities. The card travels inside the ONNX file (``metadata_props`` key
:data:`CARD_KEY`) and beside a ``.tflite`` file as ``<file>.card.json``, so an artifact can
never be separated from the facts needed to feed it correctly. An artifact without a card,
or with a card that does not describe its inputs, is refused with a one-line error.

This module is runtime code: numpy + onnxruntime (+ ai-edge-litert or tflite-runtime for
.tflite), never torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.errors import EcgEdgeError

__all__ = [
    "CARD_KEY",
    "CARD_SCHEMA",
    "TASKS",
    "Model",
    "load_model",
    "read_card",
    "validate_card",
    "card_path_for_tflite",
    "softmax",
    "sigmoid",
    "default_model_path",
]

#: Key of the model card in the ONNX ``metadata_props``.
CARD_KEY = "ecgedge_model_card"
CARD_SCHEMA = "ecgedge.model_card/1"
TASKS = ("beat", "hyp", "findings6")
_OUTPUTS = ("softmax", "sigmoid")
_REQUIRED = ("schema", "task", "arch", "classes", "output", "inputs", "fs", "leads", "window")


def default_model_path(task: str, precision: str = "int8", fmt: str = "onnx") -> Path:
    """Path of a shipped artifact by the naming contract ``models/<task>.<prec>.<fmt>``
    (checkout or installed wheel alike: :mod:`edge_runtime.resources`)."""
    from edge_runtime.resources import model_path

    return model_path(task, precision, fmt)


# --------------------------------------------------------------------------- card checks
def validate_card(card: Any, source: str = "model card") -> dict[str, Any]:
    """Check that ``card`` is a usable ``ecgedge.model_card/1`` and return it.

    Only what the runtime relies on is checked (schema, task, classes, output activation,
    inputs with batch-first shapes, fs, leads, window); unknown extra keys are allowed so
    the card can grow. Raises :class:`EcgEdgeError` naming the first problem.
    """

    def bad(msg: str) -> EcgEdgeError:
        return EcgEdgeError(f"{source}: {msg}")

    if not isinstance(card, Mapping):
        raise bad("is not a JSON object")
    missing = [k for k in _REQUIRED if k not in card]
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")
    if card["schema"] != CARD_SCHEMA:
        raise bad(f"unknown schema {card['schema']!r} (expected {CARD_SCHEMA!r})")
    if card["task"] not in TASKS:
        raise bad(f"unknown task {card['task']!r} (expected one of {', '.join(TASKS)})")
    classes = card["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise bad("'classes' must be a non-empty list of names")
    if card["output"] not in _OUTPUTS:
        raise bad(f"'output' must be softmax or sigmoid, got {card['output']!r}")
    if card["output"] == "softmax" and len(classes) < 2:
        raise bad("a softmax output needs at least two classes")
    inputs = card["inputs"]
    if not isinstance(inputs, list) or not inputs:
        raise bad("'inputs' must be a non-empty list")
    names = set()
    for spec in inputs:
        if not isinstance(spec, Mapping) or not {"name", "shape"} <= set(spec):
            raise bad("each input needs 'name' and 'shape'")
        shape = spec["shape"]
        if not isinstance(shape, list) or len(shape) < 2 or shape[0] is not None:
            raise bad(f"input {spec['name']!r}: shape must be [null (batch), ...], got {shape}")
        if not all(isinstance(d, int) and d > 0 for d in shape[1:]):
            raise bad(f"input {spec['name']!r}: non-batch dimensions must be positive ints")
        if spec.get("dtype", "float32") != "float32":
            raise bad(f"input {spec['name']!r}: only float32 inputs are supported")
        names.add(spec["name"])
    if len(names) != len(inputs):
        raise bad("input names must be unique")
    try:
        fs = float(card["fs"])
    except (TypeError, ValueError):
        raise bad(f"'fs' must be a number, got {card['fs']!r}") from None
    if not fs > 0:
        raise bad(f"'fs' must be positive, got {fs}")
    leads = card["leads"]
    if not isinstance(leads, list) or not leads or not all(isinstance(x, str) for x in leads):
        raise bad("'leads' must be a non-empty list of lead names")
    if not isinstance(card["window"], Mapping) or not card["window"]:
        raise bad("'window' must be an object")
    return dict(card)


def card_path_for_tflite(path: str | Path) -> Path:
    """The card of ``x.tflite`` lives beside it as ``x.tflite.card.json``."""
    p = Path(path)
    return p.with_name(p.name + ".card.json")


def _read_onnx_card(path: Path) -> dict[str, Any]:
    import onnxruntime as ort

    try:
        meta = ort.InferenceSession(
            str(path), providers=["CPUExecutionProvider"]
        ).get_modelmeta().custom_metadata_map
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EcgEdgeError(f"{path}: not a loadable ONNX model ({first[:160]})") from None
    return _parse_card_text(meta.get(CARD_KEY), path)


def _parse_card_text(text: str | None, path: Path) -> dict[str, Any]:
    if not text:
        raise EcgEdgeError(f"{path}: no model card (metadata key '{CARD_KEY}' missing)")
    try:
        card = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EcgEdgeError(f"{path}: model card is not valid JSON ({exc.msg})") from None
    return validate_card(card, source=f"{path}: model card")


def read_card(path: str | Path) -> dict[str, Any]:
    """Read and validate the model card of an ``.onnx`` or ``.tflite`` artifact."""
    p = Path(path)
    if not p.is_file():
        raise EcgEdgeError(f"model file not found: {p}")
    if p.suffix == ".onnx":
        return _read_onnx_card(p)
    if p.suffix == ".tflite":
        cp = card_path_for_tflite(p)
        if not cp.is_file():
            raise EcgEdgeError(f"{p}: no model card ({cp.name} not found beside it)")
        return _parse_card_text(cp.read_text(encoding="utf-8"), cp)
    raise EcgEdgeError(f"{p}: unknown model format (expected .onnx or .tflite)")


# --------------------------------------------------------------------------- activations
def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row max so large logits do not overflow."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


# --------------------------------------------------------------------------- backends
class _OrtBackend:
    name = "onnxruntime"

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, feeds)[0]


def _tflite_interpreter_class():
    """ai-edge-litert (the maintained wheel) first, tflite-runtime as the Pi fallback."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except ImportError:
        raise EcgEdgeError(
            "loading .tflite needs ai-edge-litert (pip install 'ecgedge[tflite]') "
            "or tflite-runtime"
        ) from None


class _TfliteBackend:
    """TFLite interpreter with float or int8 I/O, resized to the batch of each call.

    Inputs are matched to the card's input order: by name when the converter kept the
    names, else in the interpreter's input order (litert-torch keeps positional order).
    """

    def __init__(self, path: Path, threads: int, card_inputs: list[str]) -> None:
        cls, self.name = _tflite_interpreter_class()
        try:
            self.interp = cls(model_path=str(path), num_threads=threads)
        except Exception as exc:
            raise EcgEdgeError(f"{path}: not a loadable TFLite model ({exc})") from None
        details = self.interp.get_input_details()
        if len(details) != len(card_inputs):
            raise EcgEdgeError(
                f"{path}: model has {len(details)} inputs but its card lists {len(card_inputs)}"
            )
        by_name = {d["name"]: d for d in details}
        if all(n in by_name for n in card_inputs):
            ordered = [by_name[n] for n in card_inputs]
        else:
            ordered = sorted(details, key=lambda d: d["index"])
        self._inputs = dict(zip(card_inputs, ordered, strict=True))
        self._output = self.interp.get_output_details()[0]
        self._batch = None
        self.input_names = list(card_inputs)

    def _resize(self, batch: int) -> None:
        if batch == self._batch:
            return
        for d in self._inputs.values():
            shape = list(d["shape"])
            shape[0] = batch
            self.interp.resize_tensor_input(d["index"], shape, strict=False)
        self.interp.allocate_tensors()
        self._output = self.interp.get_output_details()[0]
        self._batch = batch

    def _invoke(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        for name, d in self._inputs.items():
            x = feeds[name]
            if d["dtype"] != np.float32:  # fully quantized input: q = x / scale + zero_point
                scale, zero = d["quantization"]
                info = np.iinfo(d["dtype"])
                x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(d["dtype"])
            self.interp.set_tensor(d["index"], x)
        self.interp.invoke()
        out = self.interp.get_tensor(self._output["index"])
        if out.dtype != np.float32:
            scale, zero = self._output["quantization"]
            out = (out.astype(np.float32) - zero) * scale
        return np.array(out, copy=True)

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        batch = next(iter(feeds.values())).shape[0]
        first = next(iter(self._inputs.values()))
        fixed = int(first.get("shape_signature", first["shape"])[0])
        if fixed == -1:  # dynamic batch axis: resize to this call's batch
            self._resize(batch)
            return self._invoke(feeds)
        # Converters often bake the example batch (usually 1) into the graph: run in chunks
        # of that size, zero-padding the last one.
        if self._batch is None:
            self.interp.allocate_tensors()
            self._batch = fixed
        outs = []
        for i in range(0, batch, fixed):
            chunk = {k: v[i : i + fixed] for k, v in feeds.items()}
            n = next(iter(chunk.values())).shape[0]
            if n < fixed:
                chunk = {k: np.concatenate([v, np.zeros((fixed - n, *v.shape[1:]), v.dtype)])
                         for k, v in chunk.items()}
            outs.append(self._invoke(chunk)[:n])
        return np.concatenate(outs)


# --------------------------------------------------------------------------- the model
class Model:
    """A deployed model plus its card.

    ``predict(x=..., rr=...)`` takes the inputs named in the card (batch first), checks
    their shapes, runs the backend and returns probabilities (softmax or sigmoid as the card
    says); ``logits(...)`` returns the raw outputs.
    """

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self.path = Path(path)
        self.card = read_card(self.path)
        self.input_specs: list[dict[str, Any]] = list(self.card["inputs"])
        self.input_names = [s["name"] for s in self.input_specs]
        if self.path.suffix == ".onnx":
            self._backend: _OrtBackend | _TfliteBackend = _OrtBackend(self.path, threads)
            if sorted(self._backend.input_names) != sorted(self.input_names):
                raise EcgEdgeError(
                    f"{self.path}: model inputs {self._backend.input_names} do not match "
                    f"its card's inputs {self.input_names}"
                )
        else:
            self._backend = _TfliteBackend(self.path, threads, self.input_names)

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def classes(self) -> list[str]:
        return list(self.card["classes"])

    @property
    def task(self) -> str:
        return str(self.card["task"])

    def prepare(self, **inputs: Any) -> dict[str, np.ndarray]:
        """Checked, contiguous float32 feeds (batch axis added) for :meth:`run`."""
        return self._feeds(inputs)

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Raw logits for feeds from :meth:`prepare`, without re-checking (hot loops)."""
        return self._backend.run(feeds)

    def _feeds(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        extra = set(inputs) - set(self.input_names)
        if extra:
            raise EcgEdgeError(
                f"unexpected model input(s) {sorted(extra)}; the card lists {self.input_names}"
            )
        feeds: dict[str, np.ndarray] = {}
        batch = None
        for spec in self.input_specs:
            name = spec["name"]
            if name not in inputs:
                raise EcgEdgeError(f"missing model input '{name}' (card lists {self.input_names})")
            x = np.ascontiguousarray(inputs[name], dtype=np.float32)
            want = spec["shape"]
            if x.ndim == len(want) - 1:  # a single example: add the batch axis
                x = x[None]
            if x.ndim != len(want) or list(x.shape[1:]) != list(want[1:]):
                raise EcgEdgeError(
                    f"input '{name}' has shape {list(x.shape)}, the model expects "
                    f"[batch, {', '.join(map(str, want[1:]))}]"
                )
            if batch is None:
                batch = x.shape[0]
            elif x.shape[0] != batch:
                raise EcgEdgeError("all model inputs must have the same batch size")
            feeds[name] = x
        return feeds

    def logits(self, **inputs: Any) -> np.ndarray:
        """Raw model outputs, shape (batch, n_classes)."""
        return np.asarray(self._backend.run(self._feeds(inputs)), dtype=np.float32)

    def predict(self, **inputs: Any) -> np.ndarray:
        """Class probabilities, shape (batch, n_classes)."""
        z = self.logits(**inputs)
        return softmax(z) if self.card["output"] == "softmax" else sigmoid(z)

    def __repr__(self) -> str:
        return f"Model({self.path.name!r}, task={self.task!r}, backend={self.backend!r})"


def load_model(path: str | Path, threads: int = 1) -> Model:
    """Load an ``.onnx`` or ``.tflite`` artifact with its card (one-line error if unusable)."""
    return Model(path, threads=threads)
