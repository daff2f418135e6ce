"""The single-label report's figures and regime, computed from the runs' files: reliability curves, the
penultimate-layer projections, and the sentences on the CE baselines' regime and on each arm's smoothing dose
beside it (a distillation student has no dose and no CE baseline of its model). Its tables are in `runs`,
`summary` and `replication`."""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core import dose, layout, regime
from lsml_core.multiclass.config import model_label
from lsml_core.multiclass.evaluate import read_predictions
from lsml_core.multiclass.losses import STUDENT, arm_of
from lsml_core.multiclass.metrics import top_label_reliability
from lsml_core.multiclass.summary import BASELINE
from lsml_core.records import read_json
from lsml_core.results import finished_runs

REDO = "./run_all.sh --profile {profile} --force"  # the command that redoes a profile's finished runs


def reliability_curves(profile_dir: Path, runs: dict[str, str], split: str = "test") -> dict:
    """Top-label reliability before and after temperature scaling per arm, in the form `plots.reliability_diagrams` takes."""
    curves = {}
    for arm, run in runs.items():
        run_dir = Path(profile_dir) / layout.RUNS / run
        labels, logits = read_predictions(run_dir / layout.predictions(split))
        metrics = read_json(run_dir / layout.METRICS)
        temperature = metrics["temperature"]
        curves[arm] = {
            "before": top_label_reliability(labels, logits),
            "after": top_label_reliability(labels, logits, temperature),
            "temperature": temperature,
            "ece_before": metrics["splits"][split]["before"]["ece"],
            "ece_after": metrics["splits"][split]["after"]["ece"],
        }
    return {"top label": curves}


def template_plane(templates: np.ndarray) -> np.ndarray:
    """An orthonormal basis [2, D] of the plane through three class templates (Mueller, Kornblith & Hinton)."""
    if templates.shape[0] != 3:
        raise ValueError(f"the plane needs exactly three class templates, got {templates.shape[0]}")
    basis, _ = np.linalg.qr((templates[1:] - templates[0]).T)
    return basis.T


def projections(profile_dir: Path, runs: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per arm: the penultimate features of the three projection classes' test images, projected on the
    plane through those classes' templates (the rows of the last layer's weight), as in Mueller et al."""
    result = {}
    for arm, run in runs.items():
        data = np.load(Path(profile_dir) / layout.RUNS / run / layout.PROJECTION)
        xy = data["features"] @ template_plane(data["templates"]).T
        result[arm] = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": data["labels"]})
    return result


def baseline_records(profile_dir: Path) -> dict[str, list[dict | None]]:
    """Per teacher model: the `regime` entry of each of its CE runs (None where an older revision finished the
    run without one). The students are distilled only: there is no plain-CE student baseline."""
    records: dict[str, list[dict | None]] = {}
    for _, config, metrics in finished_runs(profile_dir):
        if arm_of(config["train"]) == "CE":
            records.setdefault(model_label(config["train"]), []).append(metrics.get("regime"))
    return records


def regime_readings(profile_dir: Path, profile: str) -> list[tuple[str, str]]:
    """Per teacher model, the generated sentence on its CE baseline's regime and its kind (`regime.kind`);
    kind unrecorded where an older revision finished its runs (with the command that redoes them), unknown
    where no baseline finished."""
    readings = []
    for model, records in sorted(baseline_records(profile_dir).items()):
        name = f"{BASELINE} ({model})"
        missing = sum(r is None for r in records)
        if missing:
            readings.append(
                (
                    f"The regime of the {name} baseline is not recorded: {missing} of its {len(records)} runs were "
                    f"finished by an older revision; `{REDO.format(profile=profile)}` redoes them.",
                    "unrecorded",
                )
            )
            continue
        summary = regime.summarise(records)
        readings.append((regime.reading(summary, name), regime.kind(summary)))
    if not readings:
        readings.append((f"No {BASELINE} baseline has finished: the regime of this profile is not known.", "unknown"))
    return readings


def dose_readings(profile_dir: Path) -> list[str]:
    """Per teacher model's CE baseline and smoothed arm (LS, LS with explicit targets, ILS per alpha over its
    temperatures), the arm's mean dose over its runs beside the baseline's overconfidence on the selection part
    (`lsml_core.dose.sentence`)."""
    doses, gaps = {}, {}
    for _, config, metrics in finished_runs(profile_dir):
        t = config["train"]
        baseline = f"{BASELINE} ({model_label(t)})"
        if arm_of(t) == "CE":
            gaps.setdefault(baseline, []).append(dose.selection_gap(metrics))
        elif arm_of(t) != STUDENT:
            doses.setdefault((baseline, f"{arm_of(t)} a={t['alpha']:g}"), []).append(dose.recorded(metrics))
    ordered = dict(sorted(doses.items()))
    return dose.readings(ordered, {name: dose.mean_recorded(values) for name, values in gaps.items()})


def conclusion_caveat(readings: list[tuple[str, str]]) -> str:
    """The sentence the conclusions open with: `regime.conclusion_caveat` of the baselines' kinds."""
    return regime.conclusion_caveat([kind for _, kind in readings])


def regime_table(profile_dir: Path) -> pd.DataFrame:
    """Per run with a recorded regime: the confidence gap per split at T = 1, the last epoch's losses, whether
    the training loss still fell (at the end, at a high learning rate) and the selection loss rose, the training
    against the selection accuracy, and whether those signals read converged (`lsml_core.regime`; None: not
    recorded)."""
    rows = []
    for run_dir, _, metrics in finished_runs(profile_dir):
        if "regime" not in metrics:
            continue
        entry, trend = metrics["regime"], metrics["regime"]["training"]
        rows.append(
            {
                "run": run_dir.name,
                **{f"confidence - accuracy ({split})": gap for split, gap in entry["confidence_gap"].items()},
                "epochs": trend["epochs"],
                "training loss": trend["train_loss"],
                f"{entry['selection_split']} loss": trend["selection_loss"],
                "training loss still falling": trend["train_still_falling"],
                f"{entry['selection_split']} loss rising": trend["selection_loss_rising"],
                "still falling at a high learning rate": trend.get("falling_at_high_rate"),
                f"training - {entry['selection_split']} accuracy": trend.get("fitted_gap"),
                "converged": regime.converged(trend),
            }
        )
    return pd.DataFrame(rows)
