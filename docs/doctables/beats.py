"""The tables of docs/beats_crossdb.md (the shipped DS1 + SVDB beat model) and its headline in
docs/beats.md and the README: targets, CV ablation, DS2 and cross-database rows, fold-member
spread and the per-record DS2 errors, all from ``docs/results/beats_crossdb.json``.

One implementation: ``python -m train.beats.crossdb_tables`` prints these same renderers.
"""

from __future__ import annotations

from doctables import md, table

COLS = ("veb_se", "veb_ppv", "sveb_se", "sveb_ppv")
HEAD = ["VEB Se", "VEB +P", "SVEB Se", "SVEB +P"]
#: the targets the shipped model was built against (DS2 condition (b), int8), in COLS order,
#: then the SVEB Se spread (sd, points) over the ensemble's fold members
TARGETS = {"veb_se": 95.0, "veb_ppv": 92.0, "sveb_se": 80.0, "sveb_ppv": 55.0}
TARGET_SVEB_SD = 5.0


def _c(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def _cells(h: dict | None) -> list[str]:
    h = h or {}
    return [_c(h.get(k)) for k in COLS]


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def shipped_int8(d: dict, cond: str = "(b)") -> dict:
    """The shipped int8 artifact's DS2 row for condition ``cond`` ('(a)' or '(b)')."""
    hits = [v for k, v in (d.get("int8") or {}).items()
            if k.startswith("shipped int8") and "DS2" in k and cond in k]
    if len(hits) != 1:
        raise KeyError(f"shipped int8 DS2 {cond} row ({len(hits)} matches in 'int8')")
    return hits[0]


def shipped_final(d: dict) -> dict:
    """The shipped fold ensemble's fp32 rows (DS2 (a)/(b), members, errors, latency)."""
    return d["final"]["variants"]["shipped"]


def headline(d: dict) -> tuple[dict, float]:
    """The shipped int8 model's DS2 (b) row and the SVEB Se sd over its fold members."""
    return shipped_int8(d, "(b)"), shipped_final(d)["ds2_b_members"]["sveb_se"]["sd"]


@table("beats_crossdb_headline", "beats_crossdb.json", "beats_headline.json")
@table("beats_shipped", "beats_crossdb.json", "beats_headline.json")  # docs/beats.md
def _headline(d: dict, prev: dict) -> str:
    h, sd = headline(d)
    cv_sd = d["cv"]["rows"][shipped_final(d)["variant"]]["sveb_se_per_fold"]["sd"]
    old = prev["row"]["ds2_b"]
    n_old = old["sveb_se"]["n"]
    rows = [["target", *(f">= {TARGETS[k]:.0f}" for k in COLS), f"<= {TARGET_SVEB_SD:.0f}"],
            ["**shipped int8**", *(f"**{c}**" for c in _cells(h)),
             f"{sd:.1f} over the {len(shipped_final(d)['ds2_b_members']['sveb_se']['values'])} "
             f"fold members on DS2 (b); {cv_sd:.1f} over the CV folds (out of fold)"],
            ["target met?", *(_met(h[k] >= TARGETS[k]) for k in COLS),
             _met(sd <= TARGET_SVEB_SD)],
            [f"previous model ({prev['model']}, DS1 only; {n_old} seeds)",
             *(_c(old[k]["mean"]) for k in COLS),
             f"{old['sveb_se']['sd']:.1f} over {n_old} seeds"]]
    return md(["DS2 condition (b)", *HEAD, "SVEB Se sd"], rows)


@table("beats_crossdb_rows", "beats_crossdb.json")
def _crossdb_rows(d: dict) -> str:
    fin = d["final"]["variants"]
    ds1 = fin["ds1_only"]
    oof = d["cv"]["rows"][shipped_final(d)["variant"]]["oof_offsets_cross_fitted"]["svdb"]
    rows = [["DS1 only (5 fold models, ensemble)", "DS2", *_cells(ds1["ds2_b"])],
            ["DS1 only (5 fold models, ensemble)", "SVDB, all 38 records (never trained on)",
             *_cells(ds1["svdb_b"])],
            ["DS1 + SVDB (shipped, fp32)", "DS2", *_cells(shipped_final(d)["ds2_b"])],
            ["DS1 + SVDB (shipped, int8)", "DS2", *_cells(shipped_int8(d, "(b)"))],
            ["DS1 + SVDB, out of fold (reference positions, cross-fitted offsets)", "SVDB",
             *_cells(oof)]]
    return md(["trained on", "tested on", *HEAD], rows)


@table("beats_crossdb_ablation", "beats_crossdb.json")
def _ablation(d: dict) -> str:
    rows = []
    for name, r in d["cv"]["rows"].items():
        for dec, key in (("argmax", "oof_argmax"), ("S/V offsets", "oof_offsets_cross_fitted")):
            for part in ("all", "ds1", "svdb"):
                h = r[key][part]
                sp = r["sveb_se_per_fold"] if key != "oof_argmax" and part == "all" else None
                rows.append([name, r["variant"]["note"], dec, part, *_cells(h),
                             f"{h['score']:.3f}", f"{sp['mean']} ± {sp['sd']}" if sp else ""])
    return md(["variant", "what", "decisions", "part", *HEAD, "CV score",
               "SVEB Se per fold (mean ± sd)"], rows)


@table("beats_crossdb_final", "beats_crossdb.json")
def _final(d: dict) -> str:
    rows = []
    for role, row in d["final"]["variants"].items():
        for cond, key in (("(a) reference", "ds2_a"), ("(b) detector", "ds2_b")):
            rows.append([f"{role} ({row['variant']})", "DS2", cond, *_cells(row.get(key))])
        for cond, key in (("(a) reference", "svdb_a"), ("(b) detector", "svdb_b")):
            if key in row:
                rows.append([f"{role} ({row['variant']})", "SVDB all 38 (never trained on)",
                             cond, *_cells(row[key])])
    for cond, name in (("(a)", "(a) reference"), ("(b)", "(b) detector")):
        rows.append(["shipped int8 ONNX", "DS2", name, *_cells(shipped_int8(d, cond))])
    return md(["model", "data", "condition", *HEAD], rows)


@table("beats_crossdb_spread", "beats_crossdb.json")
def _spread(d: dict) -> str:
    rows = []
    for role, row in d["final"]["variants"].items():
        m = row["ds2_b_members"]
        rows.append([f"{role} ({row['variant']})", *(
            f"{m[k]['mean']} ± {m[k]['sd']} ({', '.join(str(v) for v in m[k]['values'])})"
            for k in ("sveb_se", "sveb_ppv", "veb_se", "veb_ppv"))])
    return md(["model", "DS2 (b) per fold member: SVEB Se", "SVEB +P", "VEB Se", "VEB +P"], rows)


def error_rows(tab: dict) -> list[list]:
    """Per-record EC57 counts, the records with the most errors first."""
    order = sorted(tab, key=lambda r: -(tab[r]["S_fn"] + tab[r]["S_fp"] + tab[r]["V_fn"]
                                        + tab[r]["V_fp"]))
    return [[r, *(tab[r][k] for k in ("S_n", "S_tp", "S_fn", "S_fp", "V_n", "V_tp", "V_fn",
                                      "V_fp"))] for r in order]


@table("beats_crossdb_errors", "beats_crossdb.json")
def _errors(d: dict) -> str:
    return md(["record", "S n", "S found", "S missed", "S false", "V n", "V found", "V missed",
               "V false"], error_rows(shipped_final(d)["ds2_b_errors"]),
              ["l"] + ["r"] * 8)
