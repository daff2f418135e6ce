"""Maher & Kull's claims beside this project's numbers, with two on distillation (Hinton, Vinyals & Dean 2015: a
teacher makes its student more accurate than the student trained alone; Mueller, Kornblith & Hinton 2019: a
smoothed teacher distils worse, Fig. 7) per distillation temperature: THEIR published Fashion-MNIST figures (labelled as
theirs, only to be shown beside ours; nothing of ours is typed in), our paired differences with their 95%
intervals over seeds and images (`lsml_core.bootstrap`), and whether they reproduce each claim: `reproduced`
when the interval excludes zero in the published direction, `contradicted` when it excludes zero the other
way, `inconclusive` otherwise; with one seed the verdict says that training randomness is not covered."""

from pathlib import Path

import numpy as np
import pandas as pd

from lsml_core.bootstrap import ONE_SEED
from lsml_core.multiclass.runs import teachers
from lsml_core.multiclass.summary import RunStatistics, paired_interval

# THEIR test figures (Maher & Kull 2021): Fashion-MNIST, a small DenseNet. Not ours.
MAHER_KULL_FASHION = pd.DataFrame(
    [("CE", 92.68, 0.220, 0.026), ("LS", 92.52, 0.223, 0.010), ("ILS", 93.96, 0.203, 0.010)],
    columns=["arm", "accuracy %", "log loss", "ECE"],
).set_index("arm")


THEIR_ARCHITECTURE = "small DenseNet (Maher & Kull's, not run here)"
ALONE = "no teacher"  # the arm of the student model trained on the hard labels, without a teacher


def students_with_alone(chosen: pd.DataFrame) -> pd.DataFrame:
    """The distilled students' rows, each group (`student_of`: student, teacher model, KD temperature) beside the
    student model's own CE run as the arm `no teacher` (none where the profile did not train one)."""
    students = chosen[chosen.student].sort_values("kd_temperature", kind="stable")  # T=2 before T=20
    students = students.assign(
        student_of=students.model
        + " from "
        + students.teacher_model
        + ", T="
        + students.kd_temperature.map("{:g}".format)
    )
    alone = chosen[~chosen.student & (chosen.arm == "CE")]
    groups = students[["student_of", "model"]].drop_duplicates().itertuples(index=False)
    return pd.concat(
        [students, *(alone[alone.model == model].assign(student_of=group, arm=ALONE) for group, model in groups)]
    )


def _verdict(low: float, high: float, seeds: int, better: str) -> str:
    """reproduced, contradicted or inconclusive (module docstring), marked when it rests on one seed."""
    claimed, opposite = (high < 0, low > 0) if better == "lower" else (low > 0, high < 0)
    verdict = "reproduced" if claimed else "contradicted" if opposite else "inconclusive"
    return verdict if seeds > 1 else f"{verdict} ({ONE_SEED})"


def _claims(runs: pd.DataFrame, split: str) -> list[tuple]:
    """(claim, THEIR arm and reference values, our rows, value, by, arm, reference arm, better) per claim."""
    them, chosen = MAHER_KULL_FASHION, runs[(runs.split == split) & (runs.when == "before")]
    teachers, students = chosen[~chosen.student & chosen.chosen], students_with_alone(chosen)
    unpublished = (np.nan, np.nan)
    claims = [
        (
            "LS lowers ECE vs CE",
            (them.loc["LS", "ECE"], them.loc["CE", "ECE"]),
            teachers,
            "ece",
            "model",
            "LS",
            "CE",
            "lower",
        ),
        (
            "ILS lowers ECE vs CE",
            (them.loc["ILS", "ECE"], them.loc["CE", "ECE"]),
            teachers,
            "ece",
            "model",
            "ILS",
            "CE",
            "lower",
        ),
        (
            "ILS at least as accurate as LS",
            (them.loc["ILS", "accuracy %"] / 100, them.loc["LS", "accuracy %"] / 100),
            teachers,
            "accuracy",
            "model",
            "ILS",
            "LS",
            "higher",
        ),
    ]
    for scaled, label in ((False, ""), (True, ", teachers temperature-scaled")):
        claims.append(
            (
                f"LS teacher distils worse than CE teacher (student accuracy{label})",
                unpublished,
                students[students.teacher_scaled == scaled],
                "accuracy",
                "student_of",
                "LS",
                "CE",
                "lower",
            )
        )
    for arm in ("CE", "LS", "ILS"):
        claims.append(
            (
                f"{arm} teacher's student more accurate than the student trained alone",
                unpublished,
                students[~students.teacher_scaled],
                "accuracy",
                "student_of",
                arm,
                ALONE,
                "higher",
            )
        )
    return claims


def replication_table(profile_dir: Path, runs: pd.DataFrame, split: str = "test", n_boot: int = 1000) -> pd.DataFrame:
    """Each claim per model: THEIR numbers, ours (before temperature scaling), the difference paired by seed
    with its 95% interval over seeds and images, and the verdict of the module docstring."""
    rows, their_column, stats = [], f"THEIRS: {THEIR_ARCHITECTURE}", RunStatistics(profile_dir, split)
    for claim, (their_arm, their_ref), frame, value, by, arm, ref, better in _claims(runs, split):
        theirs = "not published" if np.isnan(their_arm) else f"{their_arm:.4f} vs {their_ref:.4f}"
        paired = paired_interval(stats, frame, value, arm, ref, by, n_boot=n_boot)
        if paired.empty:
            rows.append(
                {
                    "claim": claim,
                    "ours: model": "-",
                    their_column: theirs,
                    "ours (arm vs reference)": "not run",
                    "ours: difference": np.nan,
                    "ours: 95% interval": "not run",
                    "seeds": 0,
                    "verdict": "not run",
                }
            )
        for model, r in paired.iterrows():
            rows.append(
                {
                    "claim": claim,
                    "ours: model": model,
                    their_column: theirs,
                    "ours (arm vs reference)": f"{value} {r.arm:.4f} vs {r.ref:.4f}",
                    "ours: difference": round(r.difference, 4),
                    "ours: 95% interval": f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]",
                    "seeds": int(r.seeds),
                    "verdict": _verdict(r.ci_low, r.ci_high, r.seeds, better),
                }
            )
    return pd.DataFrame(rows).set_index(["claim", "ours: model"])


def published_beside_ours(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """THEIR published accuracy / log loss / ECE beside ours (mean over seeds and models, before scaling)."""
    ours = teachers(runs, split)
    ours = ours[ours.when == "before"].groupby(["model", "arm"], sort=False)[["accuracy", "log_loss", "ece"]].mean()
    ours = ours.assign(accuracy=ours.accuracy * 100).rename(
        columns={"accuracy": "accuracy %", "log_loss": "log loss", "ece": "ECE"}
    )
    theirs = (
        MAHER_KULL_FASHION.assign(model=f"THEIRS: {THEIR_ARCHITECTURE}").set_index("model", append=True).swaplevel()
    )
    return pd.concat([theirs, ours.round(4)])


def conclusions(table: pd.DataFrame) -> list[str]:
    """One generated sentence per claim and model of the replication table."""
    sentences = []
    for (claim, model), row in table.iterrows():
        if row["verdict"] == "not run":
            sentences.append(f"{claim}: not run.")
            continue
        over = (
            "the test images only (one seed)" if row["seeds"] == 1 else f"{int(row['seeds'])} seeds and the test images"
        )
        sentences.append(
            f"{claim} ({model}): {row['verdict']} (ours: difference {row['ours: difference']:+.4f}, 95% interval "
            f"{row['ours: 95% interval']} over {over})."
        )
    return sentences
