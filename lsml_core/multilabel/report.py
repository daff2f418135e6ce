"""Tables and generated conclusions of the report, computed from the runs' metrics.json files.

The original study's published numbers are kept here, labelled as theirs, only to be shown
beside this project's numbers; nothing of ours is typed in.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import dose, layout, regime, results
from lsml_core.multilabel.config import Profile, load_profile
from lsml_core.multilabel.decisions import NAMES as DECISION_NAMES
from lsml_core.multilabel.decisions import RULES
from lsml_core.multilabel.demo_data import read_params
from lsml_core.multilabel.evaluate import Predictions, read_predictions
from lsml_core.multilabel.learning_rates import kept_runs, unchosen
from lsml_core.multilabel.losses import LOSSES
from lsml_core.smoothing import SCHEMES

SPLIT_ORDER = ("fit", "val", "val_fivecrop")
METRIC_NAMES = {
    "voc2010": "per-class mAP (VOC2010+, all-point)",
    "voc2007": "per-class mAP (VOC2007, 11-point)",
    "sklearn": "per-class mAP (scikit-learn, non-interpolated)",
    "sample_ap": "per-image AP (the original's metric)",
    **{f"{name}_{rule}": f"{name} ({text})" for rule, text in RULES.items() for name in DECISION_NAMES},
}
MODEL_NAMES = {"resnet18": "ResNet-18", "resnet34": "ResNet-34", "resnet50": "ResNet-50", "mobilenet_v2": "MobileNetV2"}

# Published per-image AP of the original study (label-smoothing-multi-label-classification): Pascal VOC 2012, ImageNet-pretrained,
# alpha = 0.1. THEIR numbers, from their README; their code never applied smoothing.
ORIGINAL_PER_IMAGE_AP = pd.DataFrame(
    [
        ("fit", "resnet18", 0.996, 0.997, 0.996),
        ("fit", "mobilenet_v2", 0.971, 0.986, 0.990),
        ("val", "resnet18", 0.872, 0.877, 0.876),
        ("val", "mobilenet_v2", 0.903, 0.890, 0.879),
        ("val_fivecrop", "resnet18", 0.896, 0.895, 0.896),
        ("val_fivecrop", "mobilenet_v2", 0.918, 0.909, 0.902),
    ],
    columns=["split", "model", "none", "uniform", "positive"],
)


# Published multi-label anchors (THEIRS, from the cited sources; Pascal VOC 2007 test, 448 px, ImageNet-pretrained
# large models): where the standard metrics lie for a converged model. Not this project's numbers.
PUBLISHED_DECISIONS = pd.DataFrame(
    [
        ("mmpretrain: CSRA, ResNet-101", 94.98, 89.16, 90.80),
        ("ASL: TResNet-XL", 96.0, None, None),
    ],
    columns=["THEIRS (VOC2007, 448 px)", "mAP", "CF1", "OF1"],
)


PUBLISHED_ALPHA = 0.1  # the smoothing degree of the original study's published numbers


def summary_frame(profile_dir: Path) -> pd.DataFrame:
    """One row per run x split x metric: the long table behind every table and figure."""
    rows = []
    for run_dir, config, metrics in kept_runs(profile_dir):
        train = config["train"]
        for split, table in metrics["splits"].items():
            values = {method: table[method]["mAP"] for method in ("voc2010", "voc2007", "sklearn")}
            values["sample_ap"] = table["sample_ap"]
            for rule, scores in table.get("decisions", {}).items():
                values.update({f"{name}_{rule}": value for name, value in scores.items()})
            for metric, value in values.items():
                rows.append(
                    {
                        **run_columns(run_dir, train),
                        "best_epoch": metrics["best_epoch"],
                        "split": split,
                        "metric": metric,
                        "value": np.nan if value is None else value,
                    }
                )
    columns = ["run", "model", "loss", "scheme", "alpha", "seed", "noise", "best_epoch", "split", "metric", "value"]
    return pd.DataFrame(rows, columns=columns)


def model_name(model: str) -> str:
    """A model as the reports name it (`ResNet-18` for `resnet18`); unknown models keep their key."""
    return MODEL_NAMES.get(model, model)


def baseline_of(config: dict) -> str | None:
    """The regime reading's baseline group of a run: BCE on hard, clean labels, per model; None for other runs."""
    t = config["train"]
    if t["scheme"] == "none" and t.get("loss", "bce") == "bce" and not t.get("label_noise", 0.0):
        return f"{model_name(t['model'])} BCE"
    return None


def regime_readings(profile_dir: Path) -> list[tuple[str, str]]:
    """(label, sentence) per BCE baseline, read from the runs the report keeps (chosen learning rates only); a
    pretrained profile's baselines need no convergence signal to be in the regime of the published claims."""
    pretrained = load_profile(Path(profile_dir) / layout.PROFILE).train.pretrained != "none"
    return regime.profile_readings(profile_dir, baseline_of, runs=kept_runs, pretrained=pretrained)


def dose_readings(profile_dir: Path) -> list[str]:
    """Per BCE baseline and arm on clean labels, the arm's mean dose over its seeds beside the baseline's
    overconfidence on the selection part (`lsml_core.dose.sentence`), from the runs the report keeps."""
    arms, gaps = [], {}
    for _, config, metrics in kept_runs(profile_dir):
        t = config["train"]
        baseline = f"{model_name(t['model'])} BCE"
        if baseline_of(config) is not None:
            gaps.setdefault(baseline, []).append(dose.selection_gap(metrics))
        elif not t.get("label_noise", 0.0):
            arms.append((baseline, t.get("loss", "bce"), t["scheme"], t["alpha"], dose.recorded(metrics)))
    frame = pd.DataFrame(arms, columns=["baseline", "loss", "scheme", "alpha", "dose"])
    order = {name: i for i, name in enumerate(arm_order(frame))}
    doses = {}
    for baseline, loss, scheme, alpha, value in sorted(arms, key=lambda r: (r[0], order[arm(r[2], r[3], r[1])])):
        doses.setdefault((baseline, arm(scheme, alpha, loss)), []).append(value)
    return dose.readings(doses, {name: dose.mean_recorded(values) for name, values in gaps.items()})


def run_columns(run_dir: Path, train: dict) -> dict:
    """What identifies a run in the report's frames: its name, model, loss, scheme, alpha, seed and noise rate."""
    return {
        "run": run_dir.name,
        "model": train["model"],
        "loss": train.get("loss", "bce"),
        "scheme": train["scheme"],
        "alpha": train["alpha"],
        "seed": train["seed"],
        "noise": train.get("label_noise", 0.0),
    }


def arm(scheme: str, alpha: float, loss: str = "bce") -> str:
    """Label of a loss and scheme at a degree, e.g. `uniform a=0.1` or `focal + uniform a=0.1`; the baseline
    (BCE on hard labels) is `none`, another loss on hard labels its name, e.g. `focal`."""
    smoothing = "none" if scheme == "none" else f"{scheme} a={alpha:g}"
    if loss == "bce":
        return smoothing
    return loss if scheme == "none" else f"{loss} + {smoothing}"


def arm_order(frame: pd.DataFrame) -> list[str]:
    """The arms of a frame with loss, scheme and alpha columns in the reports' fixed order: the baseline,
    then BCE with each scheme (registry order, then alpha), then each other loss likewise."""
    keys = {
        arm(s, a, loss): (list(LOSSES).index(loss), list(SCHEMES).index(s), a)
        for loss, s, a in zip(frame["loss"], frame.scheme, frame.alpha)
    }
    return sorted(keys, key=keys.get)


def by_model_and_arm(frame: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """`frame` (with model and arm columns) sorted by model, then by the arms' order in `runs`."""
    order = {a: i for i, a in enumerate(arm_order(runs))}
    return frame.sort_values(["model", "arm"], key=lambda c: c.map(order) if c.name == "arm" else c)


def study_table(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The original study's table layout: rows split x model, columns scheme; mean over seeds, clean labels."""
    rows = summary[(summary.metric == metric) & (summary.noise == 0)].assign(
        arm=lambda f: [arm(s, a, loss) for s, a, loss in zip(f.scheme, f.alpha, f["loss"])]
    )
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(index=["split", "model"], columns="arm", values="value", aggfunc="mean")
    order = [s for s in SPLIT_ORDER if s in table.index.get_level_values(0)]
    return table.reindex(order, level=0)[[c for c in arm_order(rows) if c in table.columns]]


def metric_gap(summary: pd.DataFrame, split: str = "val") -> pd.DataFrame:
    """Per-image AP next to per-class mAP for each run: how much the original's metric flatters."""
    rows = summary[(summary.split == split) & summary.metric.isin(["voc2010", "sample_ap"])]
    table = rows.pivot_table(index="run", columns="metric", values="value").reindex(columns=["voc2010", "sample_ap"])
    table["per-image minus per-class"] = table["sample_ap"] - table["voc2010"]
    return table


def metric_gap_sentence(summary: pd.DataFrame, split: str = "val") -> str:
    """One sentence on the per-image vs per-class gap, as the original's stored predictions showed."""
    gap = metric_gap(summary, split)["per-image minus per-class"].dropna()
    if gap.empty:
        return "No runs yet."
    return (
        f"On {split}, per-image AP exceeds per-class mAP in {int((gap > 0).sum())} of {len(gap)} runs "
        f"(mean gap {gap.mean():+.3f}, range {gap.min():+.3f} to {gap.max():+.3f}): the two are different "
        "quantities, and tables must name the one they show."
    )


def original_comparison(summary: pd.DataFrame) -> pd.DataFrame:
    """Their per-image AP beside ours, arm by arm, with the direction of each scheme's effect."""
    ours = study_table(summary, "sample_ap")
    rows = []
    if ours.empty or "none" not in ours.columns:
        return pd.DataFrame(rows)
    for _, theirs in ORIGINAL_PER_IMAGE_AP.iterrows():
        key = (theirs.split, theirs.model)
        if key not in ours.index:
            continue
        for scheme in ("uniform", "positive"):
            column = arm(scheme, PUBLISHED_ALPHA)
            if column not in ours.columns:
                continue
            their_diff = theirs[scheme] - theirs["none"]
            our_diff = ours.loc[key, column] - ours.loc[key, "none"]
            rows.append(
                {
                    "split": theirs.split,
                    "model": theirs.model,
                    "arm": column,
                    "theirs: scheme - baseline": their_diff,
                    "ours: scheme - baseline": our_diff,
                    "same direction": (
                        None
                        if round(their_diff, 3) == 0 or round(our_diff, 3) == 0
                        else bool(np.sign(their_diff) == np.sign(our_diff))
                    ),
                }
            )
    return pd.DataFrame(rows)


def histories(profile_dir: Path) -> pd.DataFrame:
    """Every run's history.csv stacked, with model (by name), arm and seed columns for plotting; models and
    arms in the reports' order (the figures' legends follow it)."""
    stacked = results.histories(
        profile_dir,
        lambda config: {
            "model": config["train"]["model"],
            "seed": config["train"]["seed"],
            "loss": config["train"].get("loss", "bce"),
            "scheme": config["train"]["scheme"],
            "alpha": config["train"]["alpha"],
            "arm": arm(config["train"]["scheme"], config["train"]["alpha"], config["train"].get("loss", "bce")),
        },
    )
    if not stacked.empty:
        stacked = stacked[~stacked.run.isin(unchosen(profile_dir))]
    if stacked.empty:
        return stacked
    return by_model_and_arm(stacked, stacked).assign(model=lambda f: f.model.map(model_name))


def load_predictions(profile_dir: Path, split: str) -> dict[str, dict[str, Predictions]]:
    """Predictions of one split per model and arm (lowest seed, clean labels, arms in the reports' order), for
    the PR curves."""
    found: dict[str, dict[str, Predictions]] = {}
    arms = []
    for run_dir, config, _ in sorted(kept_runs(profile_dir), key=lambda run: run[1]["train"]["seed"]):
        train = config["train"]
        if train.get("label_noise"):
            continue
        loss = train.get("loss", "bce")
        label = arm(train["scheme"], train["alpha"], loss)
        path = run_dir / layout.predictions(split)
        if path.is_file() and label not in found.setdefault(train["model"], {}):
            found[train["model"]][label] = read_predictions(path)
            arms.append({"loss": loss, "scheme": train["scheme"], "alpha": train["alpha"]})
    order = arm_order(pd.DataFrame(arms, columns=["loss", "scheme", "alpha"]))
    return {model: {a: by_arm[a] for a in order if a in by_arm} for model, by_arm in found.items()}


def data_source(profile: Profile, data_dir: Path) -> str:
    """Where a profile's images came from, as recorded beside generated demo data."""
    if profile.data.dataset != "demo":
        return f"Pascal VOC {profile.data.year} ({Path(data_dir) / profile.data.root})"
    params = read_params(Path(data_dir) / profile.data.root)
    if params is None:
        return "demo data (not generated yet)"
    spec = params["spec"]
    return (
        f"{params['source']}: {spec['grid']}x{spec['grid']} mosaics, {spec['n_train']} train / {spec['n_val']} val, "
        f"cell fill probability {spec['fill_prob']}, seed {spec['seed']}"
        + (" (fallback)" if params.get("fallback") else "")
    )
