"""Per-task adapters: model-ready calibration / validation / test arrays for export.

Export never builds a dataset itself; each adapter calls the training code's own dataset
builder (which in turn calls the device's DSP in :mod:`edge_runtime`), then applies the
card's input normalisation and feature selection, so the arrays are exactly what the model
saw in training and will see on the device.

* calibration: a seeded sample drawn only from the records / patients the card lists as its
  training ids (refused if the card lists none, or if any of them is in the test split);
* validation: the training code's held-out split (MIT-BIH DS1 hold-out records, PTB-XL
  fold 9), used to choose the calibration method;
* test: the headline test split (MIT-BIH DS2, PTB-XL fold 10), used only for parity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_runtime.errors import EcgEdgeError

#: Calibration examples per task (multiples of the calibration batch, 32).
CALIB_SIZE = {"beat": 1024, "hyp": 256, "findings6": 256}


@dataclass
class Split:
    """Model inputs (batch first, float32, card names), labels and the ids they came from."""

    inputs: dict[str, np.ndarray]
    y: np.ndarray
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class ExportData:
    calib: Split
    val: Split
    test: Split
    source: str
    calib_ids: list[str]


def _train_ids(card: dict[str, Any]) -> set[str]:
    ids = (card.get("training") or {}).get("train_ids") or []
    if not ids:
        raise EcgEdgeError(
            "model card has no training.train_ids: cannot draw the calibration set from the "
            "training split"
        )
    return {str(i) for i in ids}


def _sample(idx: np.ndarray, y: np.ndarray | None, n: int, seed: int) -> np.ndarray:
    """Seeded sample of ``n`` indices; class-stratified (floor per class) when y is 1-D."""
    rng = np.random.default_rng(seed)
    if len(idx) <= n:
        return np.sort(idx)
    if y is None or y.ndim != 1:
        return np.sort(rng.choice(idx, n, replace=False))
    classes = np.unique(y[idx])
    floor = n // (4 * len(classes))  # every class gets a say in the activation ranges
    picked = []
    for c in classes:
        ci = idx[y[idx] == c]
        picked.append(rng.choice(ci, min(floor, len(ci)), replace=False))
    chosen = np.concatenate(picked)
    rest = np.setdiff1d(idx, chosen)
    fill = rng.choice(rest, n - len(chosen), replace=False)
    return np.sort(np.concatenate([chosen, fill]))


# --------------------------------------------------------------------------- beats (MIT-BIH)
def _beat_data(card: dict[str, Any], data_dir, seed: int) -> ExportData:
    """MIT-BIH (and SVDB, when the card was trained on it) beats through the device feed.

    Calibration: a seeded class-stratified sample of the card's training records (DS1 and,
    for a cross-database model, the SVDB records). Validation: the card's held-out records;
    a model trained by cross-validation on every DS1 + SVDB record has none, so validation is
    then a second seeded sample of training-record beats disjoint from the calibration
    sample - it only ranks the int8 candidates by their fidelity to torch, nothing is
    claimed from it. Test: DS2.
    """
    from edge_runtime.beat_input import BeatInputs
    from edge_runtime.beats import BeatConfig
    from train.beats.dataset import DS1_VAL, load_beats
    from train.data.mitdb import DS1, DS2
    from train.data.svdb import SVDB

    train_ids = _train_ids(card)
    if train_ids & set(DS2):
        leak = sorted(train_ids & set(DS2))
        raise EcgEdgeError(f"card train_ids include DS2 test records: {leak}")
    config = BeatConfig.from_card(card)
    build = BeatInputs(card)  # the device's own feed: normalisation, RR columns, names
    uses_svdb = bool(train_ids & set(SVDB))
    records = DS1 + DS2 + (SVDB if uses_svdb else ())
    bs = load_beats(records, config, data_dir, leads=len(card["leads"]), progress=False)
    bs = bs.labelled()

    def split(mask: np.ndarray) -> Split:
        return Split(build(bs.x[mask], bs.rr[mask]), bs.y[mask],
                     sorted(set(bs.record[mask].tolist())))

    train_recs = sorted(train_ids & (set(DS1) | set(SVDB)))
    in_train = np.isin(bs.record, train_recs)
    calib_idx = _sample(np.flatnonzero(in_train), bs.y, CALIB_SIZE["beat"], seed)
    calib_mask = np.zeros(len(bs), dtype=bool)
    calib_mask[calib_idx] = True
    training = card.get("training") or {}
    card_val = training["val_ids"] if "val_ids" in training else DS1_VAL
    val_recs = [str(r) for r in card_val if str(r) not in train_ids and str(r) not in DS2]
    if val_recs:
        val_mask = np.isin(bs.record, val_recs)
        val_note = "val card hold-out records"
    else:
        rest = np.flatnonzero(in_train & ~calib_mask)
        val_mask = np.zeros(len(bs), dtype=bool)
        val_mask[_sample(rest, bs.y, 2 * CALIB_SIZE["beat"], seed + 1)] = True
        val_note = ("val = training-record beats outside the calibration sample (CV-trained "
                    "model, no held-out patient; only ranks int8 candidates)")
    dbs = "MIT-BIH DS1 + SVDB" if uses_svdb else "MIT-BIH"
    return ExportData(
        calib=split(calib_mask),
        val=split(val_mask),
        test=split(np.isin(bs.record, list(DS2))),
        source=f"{dbs}: calibration from card train_ids, {val_note}, test DS2",
        calib_ids=train_recs,
    )


def _norm_entry(card: dict[str, Any], key: str) -> dict[str, Any]:
    pre = card.get("preprocessing") or {}
    entry = pre.get(key)
    return entry if isinstance(entry, dict) else {"kind": "none"}


# --------------------------------------------------------------------------- windows (PTB-XL)
def _window_data(card: dict[str, Any], data_dir, seed: int) -> ExportData:
    from edge_runtime.windowing import normalise, to_model_layout
    from train.data import ptbxl
    from train.window.data import build_task, load_conditioned

    task = card["task"]
    leads = list(card["leads"])
    missing = [lead for lead in leads if lead not in ptbxl.LEADS]
    if missing:
        raise EcgEdgeError(f"card leads {missing} are not PTB-XL leads")
    from train.window.cards import label_task

    # the card's own label definition and waveform source (hyp_all, device path ...)
    cond = load_conditioned(data_dir, source=card.get("training", {}).get("source",
                                                                          "records100"))
    td = build_task(cond, label_task(card), "12")
    li = [list(td.leads).index(lead) for lead in leads]
    norm = _norm_entry(card, "normalisation")
    train_ids = _train_ids(card)
    ecg = np.asarray([str(int(i)) for i in td.meta.ecg_id])
    test_ids = set(ecg[td.split["test"]].tolist())
    if train_ids & test_ids:
        raise EcgEdgeError(f"card train_ids include {len(train_ids & test_ids)} test records")

    def split(idx: np.ndarray) -> Split:
        x = td.x[idx][:, li, :]  # (n, leads, samples), conditioned, un-normalised
        x = to_model_layout(normalise(np.swapaxes(x, 1, 2), norm))
        return Split({card["inputs"][0]["name"]: x}, td.y[idx], ecg[idx].tolist())

    tr = td.split["train"]
    tr = tr[np.isin(ecg[tr], list(train_ids))]
    if len(tr) == 0:
        raise EcgEdgeError("none of the card's train_ids is in the PTB-XL training folds")
    calib_idx = _sample(tr, None, CALIB_SIZE[task], seed)
    return ExportData(
        calib=split(calib_idx),
        val=split(td.split["val"]),
        test=split(td.split["test"]),
        source=f"PTB-XL {task}: calibration from card train_ids (folds 1-8), val fold 9, "
        "test fold 10",
        calib_ids=ecg[calib_idx].tolist(),
    )


ADAPTERS: dict[str, Callable[[dict[str, Any], Any, int], ExportData]] = {
    "beat": _beat_data,
    "hyp": _window_data,
    "findings6": _window_data,
}


def load_export_data(card: dict[str, Any], data_dir=None, seed: int = 0) -> ExportData:
    """Calibration / validation / test arrays for the card's task, read from the real data."""
    from edge_runtime.datadir import resolve_data_dir

    root = resolve_data_dir(data_dir)
    return ADAPTERS[card["task"]](card, root, seed)
