"""The study's answer on one page: profiles' answers, the regime axis, the study's profiles and their order."""

import json

import pytest

from lsml_core import front_page, regime
from lsml_core.__main__ import parse_args
from lsml_core.answers import Answer, Effect, read_answer, write_answer
from lsml_core.pipeline.study import study_order


def effect(arm: str, difference: float | None, low: float | None, high: float | None, metric: str = "mAP", **kw):
    text = "baseline" if low is None else f"{difference:+.3f} [{low:+.3f}, {high:+.3f}]"
    values = dict(model="ResNet-18", arm=arm, metric=metric, higher_is_better=metric != "ECE", value=0.5)
    values.update(difference=difference, low=low, high=high, text=text, is_baseline=difference is None)
    return Effect(**{**values, **kw})


def answer(profile: str, kind: str, effects: list[Effect], track: str = "multilabel") -> Answer:
    return Answer(
        profile=profile,
        track=track,
        title=f"{track} title",
        description="d",
        regime=kind,
        readings=["The baseline is overconfident."],
        caveat="c",
        interval="95% interval",
        effects=effects,
    )


def test_verdict_reads_the_interval_and_the_metric_s_direction():
    assert effect("none", None, None, None).verdict == "baseline"
    assert effect("uniform", 0.02, 0.01, 0.03).verdict == "better"
    assert effect("uniform", -0.02, -0.03, -0.01).verdict == "worse"
    assert effect("uniform", -0.02, -0.03, -0.01, metric="ECE").verdict == "better"
    assert effect("uniform", 0.01, -0.01, 0.03).verdict == "no clear difference"
    assert effect("uniform", 0.01, None, None, text="+0.010 ± 0.002").verdict == "no interval"
    assert effect("uniform", None, None, None, is_baseline=False).verdict == "not paired"


def test_answer_round_trips_and_a_damaged_one_names_its_file_and_fix(tmp_path):
    original = answer("demo", regime.AXIS[1], [effect("none", None, None, None), effect("uniform", 0.02, 0.01, 0.03)])
    write_answer(tmp_path, original)
    assert read_answer(tmp_path) == original
    (tmp_path / "answer.json").write_text("{")
    with pytest.raises(ValueError, match=r"answer.json.*--profile"):
        read_answer(tmp_path)


def test_regime_axis_from_baseline_summaries():
    converged = {"gap": 0.05, "loss_gap": 0.3, "falling": 0, "near_chance": [], "runs": 2, "converged": 2}
    flat = {**converged, "converged": 1}  # one run's training loss only flattened with the decayed rate
    chance = {**converged, "near_chance": ["mAP"]}
    unrecorded = {**converged, "converged": None}  # evaluated by an older revision
    assert regime.axis(False, [converged, converged]) == "from scratch, converged"
    assert regime.axis(False, [converged, flat]) == "from scratch, underfitted"
    assert regime.axis(True, [flat]) == regime.axis(True, [unrecorded]) == "pretrained, fine-tuned"
    assert regime.axis(False, [converged, chance]) == regime.axis(False, [None]) == regime.axis(False, []) == "not read"
    assert regime.axis(False, [converged, unrecorded]) == "not read"


def test_axis_table_puts_each_regime_beside_the_others_in_axis_order(tmp_path):
    for name, kind, diff in (("conv", regime.AXIS[1], 0.02), ("under", regime.AXIS[0], -0.01)):
        write_answer(
            tmp_path / name,
            answer(name, kind, [effect("none", None, None, None), effect("uniform", diff, diff - 0.01, diff + 0.01)]),
        )
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "answer.json").write_text("[]")
    found, problems = front_page.answers(tmp_path)
    assert [a.profile for a in found] == ["under", "conv"] and len(problems) == 1 and "broken" in problems[0]
    table = front_page.axis_table(found)
    assert list(table.columns) == [
        ("mAP", "from scratch, underfitted (under)"),
        ("mAP", "from scratch, converged (conv)"),
    ]
    assert table.loc[("ResNet-18", "uniform")].tolist() == ["-0.010 [-0.020, +0.000]", "+0.020 [+0.010, +0.030]"]
    sentences = front_page.axis_sentences(found)
    assert "better than the baseline: ResNet-18: uniform +0.020 [+0.010, +0.030]" in sentences[1]
    assert sentences[0].endswith("No clear difference: 1 of 1.")
    assert front_page.axis_figure(found, "t") is not None


def test_sentences_flag_a_regime_that_was_not_read():
    found = [answer("q", regime.NOT_READ, [effect("uniform", 0.02, 0.01, 0.03)])]
    assert front_page.axis_sentences(found) == [
        "Not read (q): the baseline's regime was not read (at chance level, diverged or not recorded: its regime "
        "sentence says which), so nothing follows from its differences."
    ]


def test_summary_table_repeats_the_answer_s_values_and_texts():
    table = front_page.summary_table(
        answer("p", regime.AXIS[1], [effect("none", None, None, None), effect("uniform", 0.02, 0.01, 0.03)])
    )
    assert table.columns.tolist() == ["model", "arm", "mAP", "mAP - baseline"]
    assert table["mAP - baseline"].tolist() == ["baseline", "+0.020 [+0.010, +0.030]"]


def write_profile(folder, name: str, study: str | None = None, root: str = "r", track: str = "") -> None:
    kind = f"study: {study}\n" if study else ""
    if track == "multiclass":
        body = "track: multiclass\ndata: {n_train: 256, n_selection: 128, n_test: 200}\n"
    else:
        body = f"data: {{dataset: demo, root: {root}}}\ngrid: {{arms: [{{model: resnet18}}]}}\n"
    (folder / f"{name}.yaml").write_text(f"name: {name}\n{kind}{body}")


def test_study_profiles_their_order_and_what_is_missing(tmp_path):
    write_profile(tmp_path, "b-ml", root="shared")
    write_profile(tmp_path, "a-ml", root="zz")
    write_profile(tmp_path, "c-ml", root="shared")
    write_profile(tmp_path, "mc", track="multiclass")
    write_profile(tmp_path, "gpu", study="gpu")
    write_profile(tmp_path, "tests", study="none")
    assert front_page.study_profiles(tmp_path) == {n: "cpu" for n in ("a-ml", "b-ml", "c-ml", "mc")} | {
        "gpu": "cpu"
    } | {"gpu": "gpu"}
    # by track, then by the data they share, then by name
    assert [p.stem for p in study_order(tmp_path, gpu=False)] == ["b-ml", "c-ml", "a-ml", "mc"]
    assert "gpu" in [p.stem for p in study_order(tmp_path, gpu=True)]
    text = front_page.missing_text([answer("b-ml", regime.AXIS[1], [])], tmp_path)
    assert "`a-ml`, `c-ml`, `mc`" in text and "`gpu`" in text and "tests" not in text and "`b-ml`" not in text


def test_a_bad_study_kind_is_refused_with_the_choices(tmp_path):
    write_profile(tmp_path, "odd", study="sometimes")
    with pytest.raises(ValueError, match="cpu, gpu, none"):
        front_page.study_profiles(tmp_path)


def test_all_excludes_profile_and_runs(capsys):
    for argv in (["--all", "--profile", "demo"], ["--all", "--runs", "x*"]):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert "--all regenerates every profile" in capsys.readouterr().err
    assert parse_args([]).profile == "demo" and parse_args(["--all"]).all


def test_answer_json_holds_no_nan(tmp_path):
    write_answer(tmp_path, answer("p", regime.AXIS[0], [effect("uniform", None, None, None, is_baseline=False)]))
    assert "NaN" not in (tmp_path / "answer.json").read_text()
    json.loads((tmp_path / "answer.json").read_text())


def test_the_axis_reads_each_baseline_and_a_profile_that_repeats_another_s_runs_once(tmp_path):
    mobilenet = dict(model="MobileNetV2")
    effects = [effect("uniform", 0.02, 0.01, 0.03), effect("uniform", -0.01, -0.02, 0.01, **mobilenet)]
    regimes = {"ResNet-18": regime.AXIS[1], "MobileNetV2": regime.AXIS[0]}
    full = answer("converged", regime.AXIS[0], effects)
    full = Answer(**{**full.__dict__, "baseline_regimes": regimes, "runs": ["a", "b", "c"]})
    part = Answer(**{**full.__dict__, "profile": "demo", "runs": ["a", "c"]})
    for found in (full, part):
        write_answer(tmp_path / found.profile, found)
    found, _ = front_page.answers(tmp_path)
    assert front_page.repeats(found) == {"demo": "converged"}
    assert [a.profile for a in front_page.readings(found)] == ["converged"]
    table = front_page.axis_table(found)
    # each model in the column of its own baseline's regime, underfitted first; demo's runs not a second column
    assert list(table.columns) == [
        ("mAP", "from scratch, underfitted (converged)"),
        ("mAP", "from scratch, converged (converged)"),
    ]
    sentences = front_page.axis_sentences(found)
    assert sentences[-1].startswith("`demo`: its 2 runs are runs of `converged`")
    assert sum(s.startswith("From scratch, converged (converged), mAP") for s in sentences) == 1
    heading = front_page.profile_heading(part, found)
    assert "ResNet-18: from scratch, converged" in heading and heading.endswith("its runs are runs of `converged`")
    same = Answer(**{**full.__dict__, "profile": "copy"})
    assert front_page.repeats([full, same]) == {"copy": "converged"}  # equal runs: the later repeats the earlier


def test_a_run_is_the_same_run_when_its_configuration_is():
    from lsml_core.answers import run_identity

    config = {"profile": "demo", "track": "multilabel", "train": {"seed": 0, "alpha": 0.1}, "data": {"root": "x"}}
    assert run_identity(config) == run_identity({**config, "profile": "converged"})
    assert run_identity(config) != run_identity({**config, "train": {"seed": 1, "alpha": 0.1}})


def test_a_profile_repeats_the_largest_profile_that_holds_its_runs():
    small, middle, large = (
        Answer(**{**answer(name, regime.AXIS[1], []).__dict__, "runs": runs})
        for name, runs in (("small", ["a"]), ("middle", ["a", "b"]), ("large", ["a", "b", "c"]))
    )
    assert front_page.repeats([small, middle, large]) == {"small": "large", "middle": "large"}
    assert [a.profile for a in front_page.readings([small, middle, large])] == ["large"]


def test_the_threads_of_each_run_are_set_by_threads_and_the_old_flag_is_refused_naming_it(capsys):
    assert parse_args(["--threads", "2"]).threads == 2 and parse_args([]).threads is None
    for argv, message in (
        (["--cpus-per-run", "2"], "--cpus-per-run was renamed --threads"),
        (["--threads", "0"], "--threads 0 must be at least 1"),
    ):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert message in capsys.readouterr().err


def test_an_answer_without_effects_compares_nothing():
    frame = front_page.compared(answer("partial", regime.AXIS[1], []))
    assert frame.empty and {"model", "regime", "column"} <= set(frame.columns)
