"""The source's Table 1 recomputed beside THEIRS: exact match on fit and selection (their train and validation) per model x SESEMI
images x the weight of the harder group, and which group is harder here and how the control weights it.

The source's Table 1 (Dossev, Gallant & Shahrad, "Multi-label Classification of Image Data", COMP551
mini-project 3, 2021) is kept here, labelled THEIRS, only to be shown beside this project's numbers; nothing of
ours is typed in.
"""

import numpy as np
import pandas as pd

from lsml_core import results
from lsml_core.grouped.runs import FACTORS, control_runs, groups_of

# THEIR Table 1: accuracy % (train / validation) after 20 and 50 epochs, per model (their main one, MobileNetV2,
# and the other, ResNet-50), auxiliary task and the weight of their harder group, the letter (the digit's 1).
THEIRS = pd.DataFrame(
    [
        ("main", "MobileNetV2", "labeled", 5.0, 96.19, 91.75, 98.83, 93.23),
        ("main", "MobileNetV2", "labeled", 1.0, 97.09, 92.77, np.nan, np.nan),
        ("other", "ResNet-50", "labeled", 5.0, 94.23, 89.27, 99.17, 90.92),
        ("main", "MobileNetV2", "none", 5.0, 92.50, 88.43, 98.81, 93.82),
        ("main", "MobileNetV2", "unlabeled", 5.0, 96.22, 91.68, np.nan, np.nan),
    ],
    columns=[
        "role",
        "THEIRS model",
        "sesemi",
        "harder_weight",
        "20 ep train",
        "20 ep val",
        "50 ep train",
        "50 ep val",
    ],
)


TABLE_ONE_FIXED = ("head", "smoothing", "pseudo")  # held at the control's values in Table 1


def equal_weights(runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """The rows of the arm that differs from the control only in weighing every group alike (Table 1's weight
    arm), empty when the profile has none."""
    others = [f for f in FACTORS if f != "weights"]
    weights = runs[[c for c in runs.columns if c.startswith("weight_")]]
    alike = weights.nunique(axis=1) == 1
    return runs[(runs[others] == pd.Series({f: control_factors[f] for f in others})).all(axis=1) & alike]


def harder_group(runs: pd.DataFrame, control_factors: dict) -> tuple[str, dict, str] | None:
    """(the group of the lowest mean selection accuracy, each group's mean, the runs they come from): the arm
    weighing the groups alike when the profile has it (the control's own weights tilt its accuracies), else the
    control; None without either."""
    for rows, basis in (
        (equal_weights(runs, control_factors), "the arm weighing the groups alike"),
        (control_runs(runs, control_factors), "the control"),
    ):
        val = rows[rows.split == "selection"]
        if not val.empty:
            means = {g: float(val[f"accuracy_{g}"].mean()) for g in groups_of(runs)}
            return min(means, key=means.get), means, basis
    return None


def harder_text(runs: pd.DataFrame, control_factors: dict) -> str:
    """Which group is harder here (lower selection accuracy) and whether the control weights it most, as the
    source weighted its harder group (the letter) 5."""
    found = harder_group(runs, control_factors)
    if found is None:
        return "The control has no finished run: which group is harder is not known."
    harder, means, basis = found
    accuracies = ", ".join(f"{g} {a:.3f}" for g, a in means.items())
    control_rows = control_runs(runs, control_factors)
    if control_rows.empty:
        return f"The harder group here is the {harder}: the lower selection accuracy in {basis} ({accuracies})."
    weights = {g: float(control_rows[f"weight_{g}"].iloc[0]) for g in means}
    heaviest = max(weights, key=weights.get)
    if len(set(weights.values())) == 1:
        how = f"the control weights every group {weights[harder]:g}"
    elif heaviest == harder:
        how = f"the control weights it {weights[harder]:g}, the heaviest weight, as the source weighted its letters"
    else:
        how = (
            f"the control weights the {heaviest} {weights[heaviest]:g} instead, unlike the source, which "
            "weighted its harder group"
        )
    return (
        f"The harder group here is the {harder}: the lower selection accuracy in {basis} ({accuracies}, mean "
        f"over seeds); {how}."
    )


def theirs_weight(rows: pd.DataFrame, harder: str, groups: list[str]) -> pd.Series:
    """The weight of the harder group where every other group weighs 1 (the source's settings), else NaN."""
    others_one = np.logical_and.reduce([rows[f"weight_{g}"] == 1 for g in groups if g != harder])
    return rows[f"weight_{harder}"].where(others_one)


def table_one(runs: pd.DataFrame, control_factors: dict) -> pd.DataFrame:
    """Exact match (%) on fit and selection (beside their train and validation) per model x SESEMI images x group weights, the other factors at the
    control's values: ours as mean ± std over seeds, THEIRS beside it where they ran it.

    Models are matched by role: the control's model stands beside their main one (MobileNetV2), any
    other beside their other one (ResNet-50). Weights are matched by the harder group (`harder_group`: ours
    from the control's selection accuracies, theirs the letter): the harder group's weight with every other
    group at 1. Rows only one side ran read `not run` on the other side's text columns; THEIR missing numbers
    stay NaN.
    """
    keep = np.logical_and.reduce([runs[f] == control_factors[f] for f in TABLE_ONE_FIXED])
    rows = runs[keep & runs.split.isin(["fit", "selection"])].assign(exact=lambda f: 100 * f.exact_match)
    found = harder_group(runs, control_factors)
    if rows.empty or found is None:
        return pd.DataFrame()
    rows = rows.assign(
        role=np.where(rows.model == control_factors["model"], "main", "other"),
        harder_weight=theirs_weight(rows, found[0], groups_of(runs)),
    )
    keys = ["role", "model", "sesemi", "weights"]
    wide = rows.pivot_table(index=keys + ["seed"], columns="split", values="exact", aggfunc="first").reset_index()
    ours = results.mean_std_table(wide, keys, ["fit", "selection"], digits=2)
    ours.columns = ["ours fit", "ours selection"]
    ours = ours.reset_index().merge(rows.drop_duplicates(keys)[keys + ["harder_weight"]], on=keys)
    table = ours.merge(THEIRS, on=["role", "sesemi", "harder_weight"], how="outer")
    table = table.rename(
        columns={"model": "ours model", "weights": "ours weights", "harder_weight": "weight of the harder group"}
    )
    filled = {"ours model": "not run", "ours weights": "not run", "ours fit": "not run", "ours selection": "not run"}
    table = table.fillna(filled).fillna({"THEIRS model": "not run by the source"})
    return table.rename(columns={c: f"THEIRS {c}" for c in THEIRS.columns[4:]}).drop(columns="role")


def table_one_text(runs: pd.DataFrame, control_factors: dict) -> str:
    """What Table 1 pairs and which numbers stand side by side (generated from the runs)."""
    main = control_factors["model"]
    others = sorted(set(runs.model) - {main})
    epochs = sorted(set(control_runs(runs, control_factors).epochs)) or sorted(set(runs.epochs))
    other_text = (
        f"our {', '.join(others)} beside THEIR ResNet-50 (their other backbone)"
        if others
        else "no other backbone of ours ran beside THEIR ResNet-50"
    )
    return (
        f"Backbones are paired by role, not by name: our {main} (the control's backbone) stands beside THEIR "
        f"MobileNetV2 (their main backbone), {other_text}. The numbers differ in kind: ours are the exact match "
        f"(every group right, %) at the epoch chosen on selection exact match, of {'/'.join(map(str, epochs))} "
        "epochs, on this profile's canvases; THEIRS are the source's accuracy after 20 and 50 epochs, on their "
        f"digit-and-letter images. {harder_text(runs, control_factors)}"
    )
