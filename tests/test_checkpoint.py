"""The one checkpoint loader (weights-only) and the one provenance helper."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.errors import EcgEdgeError
from edge_runtime.provenance import git_commit, git_dirty, ids_hash, provenance

torch = pytest.importorskip("torch", reason="checkpoints need the train extra (torch)")

from train.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint  # noqa: E402

CKPTS = Path(__file__).resolve().parents[1] / "models" / "checkpoints"


@pytest.mark.parametrize("name", ["beat", "findings6", "hyp"])
def test_shipped_checkpoints_load_weights_only(name):
    path = CKPTS / f"{name}.pt"
    # the raw file itself must be weights-only loadable (no numpy or other globals)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    ck = load_checkpoint(path)
    assert ck.card["task"] == raw["card"]["task"] == name
    assert not ck.model.training
    for k, v in raw["state_dict"].items():
        assert torch.equal(ck.model.state_dict()[k], v)


def test_beat_and_window_loaders_are_the_shared_one():
    from train.beats.checkpoint import load_checkpoint as beat_load

    model, card = beat_load(CKPTS / "beat.pt")
    assert card["task"] == "beat" and not model.training
    with pytest.raises(EcgEdgeError, match="expected a 'beat' model"):
        beat_load(CKPTS / "hyp.pt")


def _card():
    return dict(torch.load(CKPTS / "beat.pt", map_location="cpu", weights_only=True)["card"])


def test_save_writes_plain_values_and_round_trips(tmp_path):
    from train.models import build

    raw = torch.load(CKPTS / "beat.pt", map_location="cpu", weights_only=True)
    model = build(raw["arch"], **raw["arch_kwargs"])
    card = _card() | {"metrics": {"f1": np.float64(0.5), "n": np.int64(3),
                                  "curve": np.arange(3.0)}}
    save_checkpoint(tmp_path / "c.pt", raw["arch"], raw["arch_kwargs"], model, card)
    back = torch.load(tmp_path / "c.pt", weights_only=True)  # plain: no allow-list needed
    assert back["card"]["metrics"] == {"f1": 0.5, "n": 3, "curve": [0.0, 1.0, 2.0]}
    assert type(back["card"]["metrics"]["f1"]) is float
    assert load_checkpoint(tmp_path / "c.pt").card["metrics"]["n"] == 3
    with pytest.raises(TypeError, match="not allowed"):
        save_checkpoint(tmp_path / "d.pt", raw["arch"], raw["arch_kwargs"], model,
                        _card() | {"bad": object()})


def test_old_file_with_numpy_scalars_loads_safely(tmp_path):
    raw = torch.load(CKPTS / "beat.pt", map_location="cpu", weights_only=True)
    raw["card"]["metrics"] = {"f1": np.float64(0.25), "n": np.int64(7)}
    torch.save(raw, tmp_path / "old.pt")  # the pre-rule writer: numpy scalars pickled
    ck = read_checkpoint(tmp_path / "old.pt")
    assert ck["card"]["metrics"] == {"f1": 0.25, "n": 7}
    assert type(ck["card"]["metrics"]["n"]) is int


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/hyg_evil_marker_should_not_exist"),))


def test_arbitrary_pickle_is_refused_not_run(tmp_path):
    marker = Path("/tmp/hyg_evil_marker_should_not_exist")
    marker.unlink(missing_ok=True)
    raw = torch.load(CKPTS / "beat.pt", map_location="cpu", weights_only=True)
    raw["card"]["x"] = _Evil()
    torch.save(raw, tmp_path / "evil.pt")
    with pytest.raises(EcgEdgeError, match="not a readable torch checkpoint") as ei:
        load_checkpoint(tmp_path / "evil.pt")
    assert "\n" not in str(ei.value)
    assert not marker.exists()


def test_missing_and_wrong_files_are_one_line_errors(tmp_path):
    with pytest.raises(EcgEdgeError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"arch": "beat_cnn"}, tmp_path / "k.pt")
    with pytest.raises(EcgEdgeError, match="checkpoint must hold"):
        read_checkpoint(tmp_path / "k.pt")


# --------------------------------------------------------------------------- provenance
def test_git_commit_is_full_hash_with_dirty_flag():
    c = git_commit()
    assert c == "unknown" or re.fullmatch(r"[0-9a-f]{40}", c)
    d = git_dirty()
    assert d is None or isinstance(d, bool)
    assert provenance() == {"git_commit": c, "git_dirty": d}


def test_git_outside_a_checkout_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown" and git_dirty(tmp_path) is None


def test_ids_hash_one_format():
    h = ids_hash(["101", "118", "9"])
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert h == ids_hash(["9", "118", "101"])  # order-free
    assert h == ids_hash(np.array([9, 101, 118]))  # numpy ints hash like their text
    assert h == ids_hash([101, 118, 9])
    assert h != ids_hash(["101", "118"])
