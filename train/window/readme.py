"""Print the README's window-model results section from docs/results/window_*.json.

``python -m train.window.readme`` -> markdown on stdout (pasted between the issue-6 markers),
so every table in the README is traceable to a committed JSON and the command inside it.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
PARTS = (
    ("headline", "Headline: architectures x seeds (test fold 10, balanced operating point)"),
    ("imbalance", "Imbalance study, HYP vs NORM, SE-CNN"),
    ("finetune", "Fine-tuning study, HYP head on a 5-superclass pre-trained SE-CNN"),
    ("augment", "Augmentation ablation, HYP vs NORM"),
    ("leads", "Lead subsets for wearables"),
)


def render() -> str:
    out = []
    for part, title in PARTS:
        path = RESULTS / f"window_{part}.json"
        if not path.is_file():
            out.append(f"#### {title}\n\n(not run yet: `ecgedge train window --study {part}`)\n")
            continue
        d = json.loads(path.read_text())
        out.append(f"#### {title}\n\nMade by `{d['command']}` (seeds {d.get('seeds')}); "
                   f"JSON: `docs/results/window_{part}.json`.\n")
        for k, v in d.items():
            if k.startswith("table"):
                out.append(f"`{k}`:\n\n{v}\n")
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
