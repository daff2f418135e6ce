"""The learning rate of a grid is chosen per group on the mean best held-out mAP over seeds; the report reads only
the chosen runs."""

import json

import pandas as pd

from lsml_core.multilabel import learning_rates


def write_run(profile_dir, name: str, lr: float | None, seed: int, selection_map: list[float], loss="focal") -> None:
    run_dir = profile_dir / "runs" / name
    run_dir.mkdir(parents=True)
    train = {"model": "resnet18", "loss": loss, "scheme": "none", "alpha": 0.0, "seed": seed}
    train |= {"lr_head": lr or 0.05, "lr_in_name": lr is not None}
    (run_dir / "config.json").write_text(json.dumps({"train": train}))
    (run_dir / "metrics.json").write_text(json.dumps({"splits": {}}))
    pd.DataFrame({"epoch": range(1, len(selection_map) + 1), "selection_map": selection_map}).to_csv(
        run_dir / "history.csv", index=False
    )


def test_the_rate_with_the_best_mean_over_seeds_is_kept(tmp_path):
    write_run(tmp_path, "base", None, 0, [0.5, 0.6], loss="bce")
    write_run(tmp_path, "f-s0-lr0.1", 0.1, 0, [0.7, 0.4])  # best epoch counts, not the last
    write_run(tmp_path, "f-s1-lr0.1", 0.1, 1, [0.5, 0.5])
    write_run(tmp_path, "f-s0-lr0.01", 0.01, 0, [0.55, 0.65])
    write_run(tmp_path, "f-s1-lr0.01", 0.01, 1, [0.5, 0.6])

    table = learning_rates.choices(tmp_path)
    assert table.set_index("lr").selection_map.to_dict() == {0.01: 0.625, 0.1: 0.6}
    assert table.set_index("lr").chosen.to_dict() == {0.01: True, 0.1: False}
    assert learning_rates.unchosen(tmp_path) == {"f-s0-lr0.1", "f-s1-lr0.1"}
    assert [d.name for d, _, _ in learning_rates.kept_runs(tmp_path)] == ["base", "f-s0-lr0.01", "f-s1-lr0.01"]


def test_a_run_outside_the_grid_competes_at_its_own_rate(tmp_path):
    write_run(tmp_path, "f-s0", None, 0, [0.7])  # the recipe's rate, 0.05
    write_run(tmp_path, "f-s0-lr0.1", 0.1, 0, [0.6])
    assert learning_rates.unchosen(tmp_path) == {"f-s0-lr0.1"}


def test_ties_keep_the_lowest_rate_and_a_profile_without_a_grid_keeps_everything(tmp_path):
    write_run(tmp_path, "a-lr0.1", 0.1, 0, [0.6])
    write_run(tmp_path, "a-lr0.01", 0.01, 0, [0.6])
    assert learning_rates.unchosen(tmp_path) == {"a-lr0.1"}
    plain = tmp_path / "plain"
    write_run(plain, "base", None, 0, [0.5], loss="bce")
    assert learning_rates.choices(plain).empty and learning_rates.unchosen(plain) == set()


def test_a_kept_rate_at_the_edge_of_its_grid_is_said_and_one_inside_is_not(tmp_path):
    for lr, best in ((0.05, 0.5), (0.15, 0.6), (0.45, 0.7)):
        write_run(tmp_path, f"focal-lr{lr}", lr, 0, [best])
    for lr, best in ((0.05, 0.5), (0.15, 0.8), (0.45, 0.7)):
        write_run(tmp_path, f"asl-lr{lr}", lr, 0, [best], loss="asymmetric")
    for lr, best in ((0.05, 0.9), (0.15, 0.8)):
        write_run(tmp_path, f"bce-lr{lr}", lr, 0, [best], loss="bce")
    assert learning_rates.edge_sentences(learning_rates.choices(tmp_path), name=str.upper) == [
        "RESNET18 bce (none, alpha 0, label noise 0): the kept rate 0.05 is the lowest searched (0.05 to 0.15); a "
        "lower rate may reach a higher selection mAP, so this arm may still lose by its recipe.",
        "RESNET18 focal (none, alpha 0, label noise 0): the kept rate 0.45 is the highest searched (0.05 to 0.45); "
        "a higher rate may reach a higher selection mAP, so this arm may still lose by its recipe.",
    ]
