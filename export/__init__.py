"""Export and quantization: trained checkpoints -> deployable, self-describing artifacts.

Modules, in the order the work flows (``ecgedge export build`` runs them all):

* :mod:`export.checkpoint` - rebuild a checkpoint strictly through the model registry;
* :mod:`export.datasets` - per-task calibration (training ids) / validation / test arrays,
  built by the training code's own dataset builders on the device's DSP;
* :mod:`export.onnx_export` - torch -> ONNX fp32 (dynamo, opset 18), card in metadata_props;
* :mod:`export.quantize` - ONNX int8 static QDQ per-channel, calibration methods as data;
* :mod:`export.tflite` - optional TFLite float/int8 (litert-torch, ai-edge-quantizer);
* :mod:`export.parity` - artifact vs torch on the test split, with the issue's bounds;
* :mod:`export.isa_gate` - int8 parity on every reachable ISA class (qemu, arm64 root),
  with :mod:`export.isa_probe` (CPU class + logits, run under emulation),
  :mod:`export.isa_subset` (the fixed emulation subsets) and :mod:`export.isa_card`
  (the cards' ``parity_per_isa`` table);
* :mod:`export.pipeline` - the whole path for one checkpoint; writes nothing unless parity holds;
* :mod:`export.tflite_rebuild` - the TFLite pair alone, next to shipped ONNX artifacts that
  it reads but never rewrites (``ecgedge export tflite``);
* :mod:`export.cli` - ``ecgedge export build|tflite|inspect``.

The device side (loading artifacts, reading cards) is :mod:`edge_runtime.inference`.
"""
