"""A profile's answer, for the study's front page: its regime, each arm's headline effects against the baseline,
and the published numbers beside ours, as its report computed them.

Each track's report notebook writes `answer.json` into the profile folder (`write_answer`) from the same frames
its summary table shows, so the front page (`lsml_core.front_page`) repeats the profile's own numbers and
never recomputes them. An effect's `text` is the difference exactly as the profile's summary prints it;
`low` and `high` bound its interval over seeds and images (`lsml_core.bootstrap`; over images only where
`seeds` is 1, which the front page says).
"""

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from lsml_core import layout
from lsml_core.records import atomic_write_text

INTERVAL_METHOD = "per-seed differences and image resampling combined, t interval"


@dataclass(frozen=True)
class Effect:
    """One arm's headline metric against its baseline: the arm's mean, the difference (arm - baseline) and its
    interval, and whether higher is better."""

    model: str
    arm: str
    metric: str
    higher_is_better: bool
    value: float | None
    difference: float | None
    low: float | None
    high: float | None
    text: str
    is_baseline: bool = False
    seeds: int | None = None  # paired seeds behind the interval; 1: it covers images only, not training randomness

    @property
    def verdict(self) -> str:
        """better, worse or no clear difference (the interval excludes zero or not); `no interval` without one,
        `baseline` for the baseline itself, `not paired` for an arm without a paired baseline run."""
        if self.is_baseline:
            return "baseline"
        if self.difference is None:
            return "not paired"
        if self.low is None or self.high is None:
            return "no interval"
        if self.low > 0 or self.high < 0:
            return "better" if (self.low > 0) == self.higher_is_better else "worse"
        return "no clear difference"


@dataclass(frozen=True)
class Answer:
    """What a profile's report answers: who (profile, track), in which regime (`regime.axis` and the generated
    readings), the effects of its arms with what their intervals cover, and THEIR numbers beside ours."""

    profile: str
    track: str
    title: str
    description: str
    regime: str
    readings: list[str]
    caveat: str
    interval: str
    effects: list[Effect]
    theirs_title: str = ""
    theirs: list[dict] = field(default_factory=list)
    pages: list[tuple[str, str]] = field(default_factory=list)  # (path in the profile folder, label) to link
    baseline_regimes: dict[str, str] = field(default_factory=dict)  # an effect's model -> its baseline's regime
    runs: list[str] = field(default_factory=list)  # identities of the runs behind the answer (`run_identity`)

    def regime_of(self, model: str) -> str:
        """The place on the regime axis of the baseline a model's effects were read against (`regime.axis` of
        that baseline alone; the profile's where the answer names none)."""
        return self.baseline_regimes.get(model, self.regime)

    def regime_text(self) -> str:
        """The profile's place on the regime axis, and each baseline's where they differ."""
        if len(set(self.baseline_regimes.values())) < 2:
            return self.regime
        return f"{self.regime} ({'; '.join(f'{m}: {r}' for m, r in self.baseline_regimes.items())})"

    def effects_frame(self) -> pd.DataFrame:
        """The effects as a frame, with their verdicts."""
        rows = [{**asdict(e), "verdict": e.verdict} for e in self.effects]
        return pd.DataFrame(rows, columns=[*Effect.__dataclass_fields__, "verdict"])


def run_identity(config: dict) -> str:
    """What makes two runs the same run: a hash of their configuration (config.json) without the profile's name,
    so that two profiles that train the same configuration on the same data share one identity."""
    same = {key: value for key, value in config.items() if key != "profile"}
    return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_identities(runs: Iterable[tuple[Path, dict, dict]], config_type) -> list[str]:
    """The sorted identities of (run folder, config, metrics) triples, as `results.finished_runs` yields them,
    each configuration first read as the track's `config_type` (its RunConfig), so that one written before keys
    were added (with their defaults) is the same run as one written since; one that no longer reads as is."""

    def complete(config: dict) -> dict:
        try:
            return config_type.from_dict(config).to_dict()
        except (ValueError, TypeError, KeyError):
            return config

    return sorted(run_identity(complete(config)) for _, config, _ in runs)


def finite(value) -> float | None:
    """A number as the answer stores it: a float, or None for a missing or non-finite one."""
    if value is None or pd.isna(value):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def records(frame: pd.DataFrame) -> list[dict]:
    """A table's rows as JSON-safe records (missing values as None), for `Answer.theirs`."""
    frame = frame.reset_index(drop=True).astype(object)
    return frame.where(frame.notna(), None).to_dict("records")


def write_answer(profile_dir: Path, answer: Answer) -> None:
    """Write `answer.json` into the profile folder (atomically), for the front page; returns nothing, so the
    report cell that calls it shows nothing."""
    atomic_write_text(Path(profile_dir) / layout.ANSWER, json.dumps(asdict(answer), indent=1, default=str))


def answer_from_json(text: str) -> Answer:
    """An answer from the JSON `write_answer` writes; ValueError, TypeError or KeyError when it is not one."""
    values = json.loads(text)
    effects, pages = [Effect(**e) for e in values["effects"]], [tuple(p) for p in values.get("pages", [])]
    return Answer(**{**values, "effects": effects, "pages": pages})


def read_answer(profile_dir: Path) -> Answer:
    """The answer a profile's report wrote; ValueError naming the file and the fix when it does not read."""
    path = Path(profile_dir) / layout.ANSWER
    try:
        return answer_from_json(path.read_text())
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(
            f"{path} does not read as a profile's answer ({exc}): rerun the profile "
            f"(./run_all.sh --profile {Path(profile_dir).name}) to write it again"
        ) from exc


def clear_answer(profile_dir: Path) -> None:
    """Remove a previous report's answer, so that a report that fails leaves none behind."""
    (Path(profile_dir) / layout.ANSWER).unlink(missing_ok=True)


def report_pages(track) -> list[tuple[str, str]]:
    """A track's reader-facing report pages (notebooks rendered without code), as an answer links them."""
    return [
        (f"{layout.NOTEBOOKS}/{layout.rendered(nb.name)}", nb.label) for nb in track.report_notebooks if nb.hide_code
    ]


def answer_of(profile, track, **found) -> Answer:
    """A profile's answer: whose it is (the profile's name and description; its track's name, title and report
    pages) and what it found (`found`: the other fields of `Answer`)."""
    return Answer(
        profile=profile.name,
        description=profile.description,
        track=track.name,
        title=track.title,
        pages=report_pages(track),
        **found,
    )
