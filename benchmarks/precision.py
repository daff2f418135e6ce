"""Does bfloat16 change a profile's results? Its runs trained at several seeds in float32 and in bfloat16 (in
the measured memory format), evaluated, and each precision's mAP set beside float32's seed-to-seed spread.

    python -m benchmarks.precision --profile demo --models resnet18 --seeds 0 1 2 --out results/precision

Writes precision_runs.csv (one row per run: seed, precision, val and val_fivecrop mAP, training seconds) and
precision.csv (per model x scheme x precision: mean, min and max over seeds) under --out, and prints both
with the verdict: bf16 is within the spread when every bf16 mean lies inside float32's [min, max] over seeds.
Runs are trained and evaluated by the library directly (no notebooks), into <out>/<precision>/<run>; a
rerun resumes and skips evaluated runs.
"""

import argparse
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from lsml_core import layout
from lsml_core.multilabel.config import load_profile
from lsml_core.multilabel.evaluate import evaluate_run, is_complete
from lsml_core.multilabel.track import prepare_data
from lsml_core.multilabel.train import train_run
from lsml_core.records import REPO_ROOT, atomic_write_text, read_json

PRECISIONS = ("fp32", "bf16")


def runs(profile, models: list[str] | None, seeds: list[int], precision: str) -> list:
    """The profile's runs of `models` (all without) with its grid's seeds set to `seeds` (each instance run
    taught by the baseline of its own seed), in `precision`; teachers first."""
    reseeded = replace(profile, grid=profile.grid.with_seeds(seeds))
    chosen = [r for r in reseeded.runs() if models is None or r.train.model in models]
    return [replace(r, train=replace(r.train, precision=precision)) for r in chosen]


def run_row(cfg, run_dir: Path, data_dir: Path) -> dict:
    """Train and evaluate one run (skipped when evaluated); its mAP on val and val_fivecrop and its training time."""
    if not is_complete(run_dir):
        start = time.perf_counter()
        train_run(cfg, run_dir, data_dir)
        evaluate_run(cfg, run_dir, data_dir)
        atomic_write_text(run_dir / "seconds.txt", f"{time.perf_counter() - start:.1f}")
    metrics = read_json(run_dir / layout.METRICS)
    history = pd.read_csv(run_dir / layout.HISTORY)
    t = cfg.train
    return {
        "model": t.model,
        "scheme": t.scheme,
        "alpha": t.alpha,
        "seed": t.seed,
        "precision": t.precision,
        "val_map": metrics["splits"]["val"]["voc2010"]["mAP"],
        "val_fivecrop_map": metrics["splits"]["val_fivecrop"]["voc2010"]["mAP"],
        "train_seconds": float(history.seconds.sum()),
        "run_seconds": float((run_dir / "seconds.txt").read_text()),
    }


def spread(rows: pd.DataFrame) -> pd.DataFrame:
    """Per model x scheme x alpha x precision: mean, min and max over seeds of val and val_fivecrop mAP, mean seconds."""
    keys = ["model", "scheme", "alpha", "precision"]
    frame = rows.groupby(keys, sort=False).agg(
        seeds=("seed", "size"),
        val_mean=("val_map", "mean"),
        val_min=("val_map", "min"),
        val_max=("val_map", "max"),
        val_fivecrop_mean=("val_fivecrop_map", "mean"),
        val_fivecrop_min=("val_fivecrop_map", "min"),
        val_fivecrop_max=("val_fivecrop_map", "max"),
        train_seconds=("train_seconds", "mean"),
    )
    return frame.reset_index()


def verdict(table: pd.DataFrame, low: str = "fp32", high: str = "bf16") -> pd.DataFrame:
    """Per model x scheme x alpha: whether `high`'s mean val and val_fivecrop mAP lie within `low`'s seed range."""
    keys = ["model", "scheme", "alpha"]
    base, other = (table[table.precision == p].set_index(keys) for p in (low, high))
    joined = other.merge(base, left_index=True, right_index=True, suffixes=(f"_{high}", f"_{low}"))
    for split in ("val", "val_fivecrop"):
        mean = joined[f"{split}_mean_{high}"]
        joined[f"{split}_within"] = (joined[f"{split}_min_{low}"] <= mean) & (mean <= joined[f"{split}_max_{low}"])
    joined["speedup"] = joined[f"train_seconds_{low}"] / joined[f"train_seconds_{high}"]
    return joined[["val_within", "val_fivecrop_within", "speedup"]].reset_index()


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--models", nargs="+", help="default: every model of the profile")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "precision")
    args = parser.parse_args(argv)
    profile = load_profile(args.profile)
    print(f"data: {prepare_data(profile, args.data_dir)}", flush=True)
    rows = []
    for precision in PRECISIONS:
        for cfg in runs(profile, args.models, args.seeds, precision):
            rows.append(run_row(cfg, args.out / precision / cfg.name, args.data_dir))
            print(
                f"{precision} {cfg.name}: val_fivecrop mAP {rows[-1]['val_fivecrop_map']:.4f} ({rows[-1]['run_seconds']:.0f} s)"
            )
    frame = pd.DataFrame(rows)
    atomic_write_text(args.out / "precision_runs.csv", frame.to_csv(index=False, float_format="%.4f"))
    table = spread(frame)
    atomic_write_text(args.out / "precision.csv", table.to_csv(index=False, float_format="%.4f"))
    judged = verdict(table)
    print(table.to_string(index=False, float_format="{:.4f}".format))
    print(judged.to_string(index=False, float_format="{:.2f}".format))
    within = bool(judged.val_within.all() and judged.val_fivecrop_within.all())
    print(f"bf16 within float32's seed spread on every run: {within}")
    return judged


if __name__ == "__main__":
    main()
