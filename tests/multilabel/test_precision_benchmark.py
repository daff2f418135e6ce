"""The bf16-against-fp32 evidence: runs at several seeds in both precisions, their spread and the verdict."""

import pandas as pd
import pytest

from benchmarks import precision
from lsml_core import compute

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_verdict_is_within_only_when_every_bf16_mean_lies_in_fp32s_seed_range():
    rows = pd.DataFrame(
        [
            {
                "model": "m",
                "scheme": s,
                "alpha": 0.1,
                "seed": seed,
                "precision": p,
                "val_map": v,
                "val_fivecrop_map": v + t,
            }
            | {"train_seconds": 2.0 if p == "fp32" else 1.0}
            for s, t in (("none", 0.0), ("uniform", 0.5))
            for p, values in (("fp32", (0.50, 0.52, 0.54)), ("bf16", (0.51, 0.53, 0.55)))
            for seed, v in enumerate(values)
        ]
    )
    rows.loc[(rows.scheme == "uniform") & (rows.precision == "bf16"), "val_fivecrop_map"] += 0.1  # outside fp32's range
    judged = precision.verdict(precision.spread(rows)).set_index("scheme")
    assert judged.val_within.all() and judged.val_fivecrop_within["none"] and not judged.val_fivecrop_within["uniform"]
    assert (judged.speedup == 2.0).all()


@pytest.mark.skipif(not compute.cpu_computes_bf16(), reason="this CPU has no bfloat16 instructions")
def test_a_tiny_profile_is_trained_in_both_precisions_at_every_seed_and_resumed(tmp_path, capsys):
    profile = tmp_path / "tiny.yaml"
    profile.write_text(
        "name: tiny\n"
        "data: {dataset: demo, root: demo-tiny, image_size: 32, n_train: 48, n_val: 16, selection_fraction: 0.25}\n"
        "train: {epochs: 1, batch_size: 8, max_batches: 2}\n"
        "grid: {arms: [{model: resnet18}]}\n"
    )
    args = ["--profile", str(profile), "--seeds", "0", "1", "--data-dir", str(tmp_path / "data")]
    judged = precision.main([*args, "--out", str(tmp_path / "out")])
    runs = pd.read_csv(tmp_path / "out" / "precision_runs.csv")
    assert sorted(zip(runs.precision, runs.seed)) == [("bf16", 0), ("bf16", 1), ("fp32", 0), ("fp32", 1)]
    assert list(judged.scheme) == ["none"] and "within float32's seed spread" in capsys.readouterr().out
    assert (tmp_path / "out" / "bf16" / "resnet18-none-a0-s1" / "metrics.json").is_file()
    precision.main([*args, "--out", str(tmp_path / "out")])  # evaluated runs are skipped
    assert "epoch" not in capsys.readouterr().err
