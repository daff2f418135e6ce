"""Models' shapes at 28x28 and 32x32; the data split, augmentation, CIFAR's clear error; the profile loads."""

import pytest
import torch

from lsml_core import tracks
from lsml_core.datasets.fashion_mnist import load_fashion_mnist
from lsml_core.multiclass.config import MODELS, DataConfig, load_profile
from lsml_core.multiclass.data import batches, load_splits, shift_flip
from lsml_core.multiclass.models import build_model
from lsml_core.splits import Split


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
def test_output_and_feature_shapes(name, channels, size):
    model = build_model(name, 7, channels, size).eval()
    x = torch.randn(2, channels, size, size)
    assert model(x).shape == (2, 7)
    assert model.features(x).shape == (2, model.head.in_features)


def test_shift_flip_is_seeded_and_keeps_content():
    images = torch.randint(0, 255, (6, 1, 28, 28), dtype=torch.uint8)
    a = shift_flip(images, 2, True, torch.Generator().manual_seed(3))
    b = shift_flip(images, 2, True, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == images.shape
    assert torch.equal(shift_flip(images, 0, False, torch.Generator()), images)


def test_batches_cover_the_split_once():
    split = Split(torch.zeros(10, 1, 4, 4, dtype=torch.uint8), torch.arange(10))
    seen = torch.cat([labels for _, labels in batches(split, 3, seed=1, shift=1, flip=True)])
    assert sorted(seen.tolist()) == list(range(10))


def test_fashion_splits_are_stratified_subsets_of_real_fashion_mnist(tmp_path):
    splits = load_splits(DataConfig(n_train=500, n_selection=200, n_test=300), tmp_path)
    assert splits.source.startswith("Fashion-MNIST") and splits.classes[0] == "tshirt_top"
    assert (len(splits.fit), len(splits.selection), len(splits.test)) == (500, 200, 300)
    assert splits.fit.images.shape[1:] == (1, 28, 28) and len(splits.classes) == 10
    assert torch.bincount(splits.selection.labels, minlength=10).min() >= 19


def test_missing_fashion_mnist_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist.*download: true"):
        load_fashion_mnist(tmp_path / "multiclass", tmp_path / "cache", False, debian_dir=tmp_path / "not-installed")


def test_cifar_missing_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar10 is not in .*download: true"):
        load_splits(DataConfig(dataset="cifar10"), tmp_path)


def test_bad_values_name_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown dataset 'mnist': choose one of fashion_mnist"):
        DataConfig(dataset="mnist")


def test_multiclass_profile_loads_and_dispatches():
    track, profile = tracks.load_profile("multiclass")
    assert track.name == "multiclass" and profile == load_profile("multiclass")
    names = [r.name for r in profile.teacher_runs()]
    assert names[0] == "resnet8-none-a0-s0" and sum("-instance-" in n for n in names) == 4 * 3  # 2 x 2 grid, 3 seeds
    assert sum(n.endswith("-s1") for n in names) == 6
    students = profile.student_runs(["resnet8-none-a0-s0"])
    assert [s.name for s in students] == [
        "shallow-kd-T20-from-resnet8-none-a0-s0",
        "shallow-kd-T20-from-resnet8-none-a0-s0-ts",
    ]
    assert tracks.load_profile("quick")[0].name == "multilabel"


def test_the_gpu_profile_trains_every_teacher_of_all_fashion_mnist_three_times():
    track, profile = tracks.load_profile("multiclass-gpu")
    assert track.name == "multiclass" and profile.data.n_train is None and profile.train.epochs == 60
    names = [r.name for r in profile.teacher_runs()]
    assert len(names) == 18 and names[0] == "resnet20-none-a0-s0" and {n[-2:] for n in names} == {"s0", "s1", "s2"}


def test_the_converged_profile_trains_every_run_to_its_last_epoch_without_regularisers():
    track, profile = tracks.load_profile("multiclass-converged")
    t, d = profile.train, profile.data
    assert track.name == "multiclass" and t.weight_decay == 0 and d.shift == 0 and not d.flip
    assert t.patience >= t.epochs  # no early stop: the training loss is followed until it flattens
    names = [r.name for r in profile.teacher_runs()]
    assert names[:2] == ["resnet8-none-a0-s0", "resnet8-uniform-a0.1-s0"] and len(names) == 4 * len(profile.grid.seeds)


@pytest.mark.parametrize("grid", ["", "grid: {seeds: [0, 1]}\n"])
def test_a_grid_without_arms_trains_maher_and_kulls_teachers(tmp_path, grid):
    path = tmp_path / "p.yaml"
    path.write_text(f"track: multiclass\n{grid}")
    profile = load_profile(path)
    names = [r.name for r in profile.teacher_runs() if r.train.seed == 0]
    assert names == [
        "resnet8-none-a0-s0",
        "resnet8-uniform-a0.1-s0",
        "resnet8-instance-a0.05-T2-s0",
        "resnet8-instance-a0.05-T8-s0",
        "resnet8-instance-a0.1-T2-s0",
        "resnet8-instance-a0.1-T8-s0",
    ]
    assert len(profile.teacher_runs()) == 6 * len(profile.grid.seeds)


def test_no_smoothing_runs_at_alpha_0_and_uniform_at_temperature_1_whatever_the_train_section_says(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "track: multiclass\ntrain: {alpha: 0.2, temperature: 4}\n"
        "grid: {arms: [{scheme: [none, uniform]}, {scheme: instance}]}"
    )
    runs = {r.train.scheme: r.train for r in load_profile(path).teacher_runs()}
    assert {t.loss for t in runs.values()} == {"ce"}
    none, uniform, instance = runs["none"], runs["uniform"], runs["instance"]
    assert (none.alpha, none.temperature, uniform.alpha, uniform.temperature) == (0.0, 1.0, 0.2, 1.0)
    assert (instance.alpha, instance.temperature, instance.teacher) == (0.2, 4.0, "resnet8-none-a0-s0")


@pytest.mark.parametrize(
    "arm, message",
    [
        ("{loss: ls, alpha: 0.1}", "loss 'ls' was replaced: write `loss: ce, scheme: uniform`"),
        ("{loss: ils, alpha: 0.1}", "loss 'ils' was replaced: write `loss: ce, scheme: instance`"),
    ],
)
def test_an_arm_with_a_loss_of_an_earlier_version_is_refused_naming_its_scheme(tmp_path, arm, message):
    path = tmp_path / "p.yaml"
    path.write_text(f"track: multiclass\ngrid: {{arms: [{{scheme: none}}, {arm}]}}")
    with pytest.raises(ValueError, match=message):
        load_profile(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("grid: {arms: [{loss: kd}]}", "loss kd cannot be an arm of grid.arms: the students are distilled"),
        ("grid: {arms: [{scheme: instance, alpha: 0.1}]}", "teacher run resnet8-none-a0-s0, which is not among"),
        ("grid: {arms: [{scheme: none}, {scheme: instance, alpha: 0.1, lr: 0.2}]}", r"differs in \['train.lr'\]"),
        ("distillation: {kd_weight: 2}", r"kd_weight=2 must lie in \[0, 1\]"),
        ("distillation: {kd_temperature: -1}", "kd_temperature=-1 must be > 0"),
        ("distillation: {student: vgg}", "unknown student model 'vgg'"),
        ("distillation: {kd_temperature: [2, 0]}", r"kd_temperature=\[2, 0\] must be > 0"),
        ("distillation: {kd_temperature: []}", r"kd_temperature=\[\] must be > 0: a number, or a non-empty list"),
        ("distillation: {teacher_scaled: [true, true]}", r"teacher_scaled=\[True, True\] must list false"),
        ("distillation: {teacher_scaled: []}", "teacher_scaled=.* must list false"),
        ("train: {schedule: cosine}", "unknown schedule 'cosine'"),
    ],
)
def test_a_bad_grid_or_distillation_is_refused_when_the_profile_is_read(tmp_path, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(f"track: multiclass\n{text}")
    with pytest.raises(ValueError, match=message):
        load_profile(path)


def test_students_per_distillation_temperature_from_the_teachers_of_the_profiles_own_schedule(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "track: multiclass\n"
        "grid: {arms: [{scheme: [none, uniform], alpha: 0.1, schedule: [step, constant]},"
        " {scheme: uniform, alpha: 0.1, explicit_targets: true}, {model: shallow, scheme: none}]}\n"
        "distillation: {kd_temperature: [2, 20], teacher_scaled: [false]}"
    )
    profile = load_profile(path)
    grid = profile.teacher_runs()
    assert [r.name for r in grid] == [
        "resnet8-none-a0-s0",
        "resnet8-none-a0-constant-s0",
        "resnet8-uniform-a0.1-s0",
        "resnet8-uniform-a0.1-constant-s0",
        "resnet8-uniform-a0.1-explicit-s0",
        "shallow-none-a0-s0",
    ]
    assert [r.train.schedule for r in grid] == ["step", "constant", "step", "constant", "step", "step"]
    teachers = [r.name for r in grid if profile.is_teacher(r.train)]
    assert teachers == ["resnet8-none-a0-s0", "resnet8-uniform-a0.1-s0"]  # the constant-rate, explicit, alone: not
    students = profile.student_runs(teachers)
    assert [r.name for r in students] == [f"shallow-kd-T{t}-from-{teacher}" for teacher in teachers for t in (2, 20)]
    assert {r.train.temperature for r in students} == {2.0, 20.0} and not any(r.train.teacher_scaled for r in students)
    assert tracks.get("multiclass").run_names(profile) == [r.name for r in grid] + [r.name for r in students]
