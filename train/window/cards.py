"""What a window-model card says about its task and training data (shared by training and
export).

The runtime knows two window tasks, ``hyp`` and ``findings6``
(:data:`edge_runtime.inference.TASKS`); a training task may define the labels differently
(``hyp_all``: HYP vs every other record; ``multi``: several heads, sliced for export). The
card keeps the runtime task in ``task`` and the label definition in ``label_task``, so that
export and evaluation rebuild the right labels.
"""

from __future__ import annotations

#: training task -> runtime task of the exported card
RUNTIME_TASK: dict[str, str] = {"hyp": "hyp", "hyp_all": "hyp", "findings6": "findings6",
                                "multi": "multi", "super5": "super5"}

#: label definitions, written into cards (``task_definition``)
TASK_DEFINITION: dict[str, dict[str, str]] = {
    "hyp": {"positive": "any HYP diagnostic superclass (PTB-XL)",
            "negatives": "NORM-only records; records with any other finding excluded"},
    "hyp_all": {"positive": "any HYP diagnostic superclass (PTB-XL)",
                "negatives": "every other record with a waveform (NORM, MI, STTC, CD, rhythm "
                             "and unlabelled records included): all comers"},
    "findings6": {"positive": "per class: SCP code present (1AVB, CRBBB, CLBBB likelihood > 0; "
                              "SBRAD, AFIB, STACH present)",
                  "negatives": "every other record"},
}


def runtime_task(task: str) -> str:
    """The card ``task`` of a model trained on ``task``."""
    return RUNTIME_TASK.get(task, task)


def label_task(card: dict) -> str:
    """The training label definition of a card (old cards: their ``task``)."""
    return str(card.get("label_task") or card["task"])


def training_data_text(source: str) -> str:
    """One line for the card's ``training.data``."""
    if source == "device":
        return ("PTB-XL v1.0.3 (ecg_id 1-1999 subset): records500 through the runtime's "
                "resampler + filter where present (ecg_id 1-500), records100 otherwise")
    return "PTB-XL v1.0.3 records100 (ecg_id 1-1999 subset)"
