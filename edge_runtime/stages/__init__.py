"""The pipeline's stages, one job each, each a plain object with ``push(block) -> events``.

An event comes with its *key* (see :mod:`edge_runtime.events`): the number of input samples
that had arrived when it became known. ``beat`` labels detected beats with the beat model,
``window`` runs the sliding multi-lead window model, ``quality`` watches signal quality;
:mod:`edge_runtime.pipeline` composes them and releases their events in key order.
"""
