"""The multi-label track as the runner sees it: its profiles, data, runs, notebooks and index column."""

from pathlib import Path

from lsml_core import layout
from lsml_core.multilabel.config import Profile, load_profile
from lsml_core.multilabel.demo_data import load_source
from lsml_core.multilabel.evaluate import is_complete, reads_last_weights
from lsml_core.multilabel.pretraining import Stage, ensure, stage_state
from lsml_core.multilabel.report import summary_frame
from lsml_core.multilabel.splits import REPORTED_SPLITS, build_splits, prepare
from lsml_core.outputs import run_outputs
from lsml_core.pipeline.notebook_list import Notebook
from lsml_core.records import atomic_write_text, read_json
from lsml_core.tracks import Track


def prepare_data(profile: Profile, data_dir: Path) -> str:
    """Generate the demo data or find (download) VOC, build the decoded-image caches every run reads (so that
    runs executing at once never build one together), and pretrain the stages the runs fine-tune from; returns
    where the images came from.

    Images that cannot be decoded leave the caches unbuilt: each run then reports them."""
    source = None
    if profile.data.data_path == "cached":
        try:
            source = build_splits(profile.data, data_dir).source
        except (ValueError, OSError) as exc:
            print(f"note: the image caches were not built ({exc}); the runs will report it", flush=True)
    source = source or prepare(profile.data, data_dir)[2]
    pretrain_stages(profile, data_dir)
    return source


def stages_of(profile: Profile) -> list[Stage]:
    """Every pretraining stage a run of the profile fine-tunes from, once each."""
    return list({run.train.stage.name: run.train.stage for run in profile.runs() if run.train.stage}.values())


def pretrain_stages(profile: Profile, data_dir: Path) -> None:
    """Train (or find stored) every pretraining stage a run of the profile fine-tunes from, once each."""
    for stage in stages_of(profile):
        record = ensure(stage, data_dir, lambda: load_source(Path(data_dir) / "cache"))
        accuracy = record.get(
            "selection_accuracy", record.get("heldout_accuracy")
        )  # a stage stored before the renaming
        print(f"pretraining stage {stage.name}: selection accuracy {accuracy:.3f}", flush=True)


def write_summary(profile_dir: Path) -> None:
    """summary.csv: one row per run x split x metric."""
    atomic_write_text(profile_dir / layout.SUMMARY, summary_frame(profile_dir).to_csv(index=False, float_format="%.4f"))


def val_map(run_dir: Path) -> str:
    """The run's val mAP (VOC2010) for the index page."""
    value = read_json(run_dir / layout.METRICS)["splits"]["val"]["voc2010"]["mAP"]
    return "n/a" if value is None else f"{value:.3f}"


TRACK = Track(
    name="multilabel",
    title="Label smoothing for multi-label classification",
    load_profile=load_profile,
    prepare=prepare_data,
    plan=lambda profile, runs_dir, settled: profile.runs(),
    run_names=lambda profile: [r.name for r in profile.runs()],
    is_complete=is_complete,
    run_notebooks=(Notebook("2.0-train", "train"), Notebook("3.0-evaluate", "evaluate")),
    profile_notebooks=(Notebook("1.0-explore-labels", "Explore the labels"),),
    report_notebooks=(
        Notebook("4.0-precision-recall", "Precision-recall curves"),
        Notebook("5.0-report", "Report: tables, loss curves, conclusions", hide_code=True),
    ),
    summarise=write_summary,
    index_score=("val mAP (VOC2010)", val_map),
    warning=lambda source: "fallback" in source,
    outputs=run_outputs(*REPORTED_SPLITS),
    reads_last_weights=reads_last_weights,
    shared_states=lambda profile, data_dir: [stage_state(stage, data_dir) for stage in stages_of(profile)],
)
