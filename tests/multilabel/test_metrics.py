"""Tests for lsml_core.multilabel.metrics: AP variants against sklearn, hand examples and devkit-style references."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from lsml_core.multilabel.metrics import (
    AP_METHODS,
    ap_table,
    average_precision,
    mean_average_precision,
    micro_precision_recall,
    precision_recall,
    sample_average_precision,
    step_average_precision,
)


def _random_problem(seed: int, n_images: int = 60, n_classes: int = 7, ties: bool = False):
    """Random multi-hot targets (every class has a positive) and scores, optionally with heavy ties."""
    rng = np.random.default_rng(seed)
    targets = (rng.random((n_images, n_classes)) < 0.3).astype(int)
    targets[0] = 1
    scores = rng.random((n_images, n_classes)) + 0.3 * targets
    return targets, (np.round(scores, 1) if ties else scores)


def _devkit_voc2010(targets: np.ndarray, scores: np.ndarray) -> float:
    """Official VOC2010+ devkit algorithm for one class (valid without ties)."""
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(targets[order] == 1)
    fp = np.cumsum(targets[order] == 0)
    rec = tp / tp[-1]
    prec = tp / (tp + fp)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    changes = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def _devkit_voc2007(targets: np.ndarray, scores: np.ndarray) -> float:
    """11-point VOC2007 loop for one class (valid without ties), thresholds t = k/10."""
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(targets[order] == 1)
    fp = np.cumsum(targets[order] == 0)
    rec = tp / tp[-1]
    prec = tp / (tp + fp)
    ap = 0.0
    for k in range(11):
        above = prec[rec >= k / 10]
        ap += (above.max() if above.size else 0.0) / 11
    return ap


@pytest.mark.parametrize("ties", [False, True])
def test_sklearn_method_matches_average_precision_score(ties):
    targets, scores = _random_problem(0, ties=ties)
    ap = average_precision(targets, scores, method="sklearn")
    expected = [average_precision_score(targets[:, c], scores[:, c]) for c in range(targets.shape[1])]
    np.testing.assert_allclose(ap, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", AP_METHODS)
def test_row_order_does_not_matter_with_ties(method):
    targets, scores = _random_problem(1, ties=True)
    perm = np.random.default_rng(2).permutation(len(targets))
    np.testing.assert_allclose(
        average_precision(targets, scores, method=method),
        average_precision(targets[perm], scores[perm], method=method),
        rtol=0,
        atol=1e-12,
    )


def test_voc2010_hand_example():
    # Ranking [1, 0, 1, 0, 0]: precision 1 at recall 0.5, 2/3 at recall 1.0
    # -> AP = 0.5 * 1 + 0.5 * 2/3 = 5/6.
    targets = np.array([[1], [0], [1], [0], [0]])
    scores = np.array([[5.0], [4.0], [3.0], [2.0], [1.0]])
    assert average_precision(targets, scores, method="voc2010")[0] == pytest.approx(5 / 6)


def test_voc2010_envelope_hand_example():
    # Ranking [1, 0, 0, 1, 1]: points (r, p) = (1/3, 1), (2/3, 1/2), (1, 3/5); the envelope
    # lifts 1/2 to 3/5 -> AP = 1/3 * 1 + 1/3 * 3/5 + 1/3 * 3/5 = 11/15 (sklearn: 1/3 + 1/6 + 1/5 = 7/10).
    targets = np.array([[1], [0], [0], [1], [1]])
    scores = np.array([[5.0], [4.0], [3.0], [2.0], [1.0]])
    assert average_precision(targets, scores, method="voc2010")[0] == pytest.approx(11 / 15)
    assert average_precision(targets, scores, method="sklearn")[0] == pytest.approx(7 / 10)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_voc2010_matches_devkit_without_ties(seed):
    targets, scores = _random_problem(seed)
    expected = [_devkit_voc2010(targets[:, c], scores[:, c]) for c in range(targets.shape[1])]
    np.testing.assert_allclose(average_precision(targets, scores, method="voc2010"), expected, atol=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_voc2010_never_below_sklearn(ties):
    targets, scores = _random_problem(6, ties=ties)
    voc = average_precision(targets, scores, method="voc2010")
    skl = average_precision(targets, scores, method="sklearn")
    assert np.all(voc >= skl - 1e-12)


def test_voc2007_hand_example():
    # Ranking [1, 0, 1, 0, 0]: max precision at recall >= t is 1 for t = 0..0.5 (6 levels)
    # and 2/3 for t = 0.6..1.0 (5 levels) -> AP = (6 * 1 + 5 * 2/3) / 11 = 28/33.
    targets = np.array([[1], [0], [1], [0], [0]])
    scores = np.array([[5.0], [4.0], [3.0], [2.0], [1.0]])
    assert average_precision(targets, scores, method="voc2007")[0] == pytest.approx(28 / 33)


@pytest.mark.parametrize("seed", [7, 8])
def test_voc2007_matches_reference_without_ties(seed):
    targets, scores = _random_problem(seed)
    expected = [_devkit_voc2007(targets[:, c], scores[:, c]) for c in range(targets.shape[1])]
    np.testing.assert_allclose(average_precision(targets, scores, method="voc2007"), expected, atol=1e-12)


@pytest.mark.parametrize("method", AP_METHODS)
def test_perfect_ranking_is_one(method):
    targets = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    scores = np.where(targets == 1, 0.9, 0.1) + np.arange(4)[:, None] * 0.01
    np.testing.assert_allclose(average_precision(targets, scores, method=method), [1.0, 1.0])


@pytest.mark.parametrize("method", AP_METHODS)
def test_masked_negative_is_excluded(method):
    targets = np.array([[0], [1], [1], [0]])
    scores = np.array([[0.9], [0.8], [0.7], [0.1]])
    mask = np.array([[0], [1], [1], [1]])
    assert average_precision(targets, scores, method=method)[0] < 1.0
    assert average_precision(targets, scores, method=method, mask=mask)[0] == pytest.approx(1.0)
    assert average_precision(targets, scores, method=method, mask=mask.astype(bool))[0] == pytest.approx(1.0)


@pytest.mark.parametrize("method", AP_METHODS)
def test_class_without_positives_is_nan_and_left_out(method):
    targets = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.2], [0.5, 0.4], [0.7, 0.1]])
    with pytest.warns(UserWarning, match="class 1"):
        ap = average_precision(targets, scores, method=method)
    assert ap[0] == pytest.approx(1.0) and np.isnan(ap[1])
    with pytest.warns(UserWarning, match="class 1"):
        assert mean_average_precision(targets, scores, method=method) == pytest.approx(1.0)


def test_all_classes_without_positives_gives_nan_quietly():
    targets = np.zeros((3, 2), dtype=int)
    scores = np.ones((3, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.isnan(mean_average_precision(targets, scores))
    assert all(issubclass(w.category, UserWarning) for w in caught)
    assert not any(issubclass(w.category, RuntimeWarning) for w in caught)


def test_sample_ap_matches_per_row_loop():
    targets, scores = _random_problem(9)
    targets[5] = 0  # an image with no positive is skipped
    mask = (np.random.default_rng(10).random(targets.shape) > 0.1).astype(int)
    expected = [
        average_precision_score(t[m == 1], s[m == 1]) for t, s, m in zip(targets, scores, mask) if t[m == 1].any()
    ]
    assert sample_average_precision(targets, scores, mask=mask) == pytest.approx(np.mean(expected))
    assert np.isnan(sample_average_precision(np.zeros((2, 3)), np.ones((2, 3))))


@pytest.mark.parametrize("ties", [False, True])
def test_step_ap_equals_scikit_learns_ap_with_and_without_ties(ties):
    rng = np.random.default_rng(11)
    for _ in range(500):
        n = int(rng.integers(1, 25))
        targets = rng.random(n) < 0.4
        targets[rng.integers(n)] = True
        scores = rng.integers(0, 4, n).astype(np.float32) if ties else rng.normal(size=n).astype(np.float32)
        assert step_average_precision(targets, scores) == pytest.approx(
            average_precision_score(targets, scores), abs=1e-12
        )


def test_micro_pr_pools_all_pairs():
    targets, scores = _random_problem(11, ties=True)
    precision, recall, ap = micro_precision_recall(targets, scores)
    assert ap == pytest.approx(average_precision_score(targets.ravel(), scores.ravel()))
    assert precision[-1] == 1.0 and recall[-1] == 0.0 and recall[0] == 1.0


def test_precision_recall_drops_masked_pairs():
    targets = np.array([0, 1, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    precision, recall, _ = precision_recall(targets, scores, mask=np.array([0, 1, 1, 1]))
    np.testing.assert_allclose(precision, [2 / 3, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(recall, [1.0, 1.0, 0.5, 0.0])


def test_ap_table_is_json_safe():
    targets = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.2], [0.5, 0.4], [0.7, 0.1]])
    with pytest.warns(UserWarning):
        table = ap_table(targets, scores, ["cat", "dog"])
    assert set(table) == {*AP_METHODS, "sample_ap"}
    for method in AP_METHODS:
        assert table[method] == {"mAP": pytest.approx(1.0), "per_class": {"cat": pytest.approx(1.0), "dog": None}}
    assert table["sample_ap"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("targets", "scores", "kwargs", "message"),
    [
        (np.ones((3, 2)), np.ones((3, 2)), {"method": "voc2012"}, "voc2012"),
        (np.ones((3, 2)), np.ones((3, 3)), {}, "same shape"),
        (np.ones(3), np.ones(3), {}, "2-D"),
        (np.array([[1, 2], [0, 1]]), np.ones((2, 2)), {}, "0 and 1"),
        (np.ones((2, 2)), np.array([[0.1, np.nan], [0.2, 0.3]]), {}, "finite"),
        (np.ones((2, 2)), np.ones((2, 2)), {"mask": np.full((2, 2), 3)}, "mask"),
    ],
)
def test_bad_inputs_raise(targets, scores, kwargs, message):
    with pytest.raises(ValueError, match=message):
        average_precision(targets, scores, **kwargs)


def test_torch_tensors_accepted():
    torch = pytest.importorskip("torch")
    targets, scores = _random_problem(12)
    scores = scores.astype(np.float32)
    ap = average_precision(torch.tensor(targets), torch.tensor(scores, requires_grad=True), method="sklearn")
    expected = [average_precision_score(targets[:, c], scores[:, c]) for c in range(targets.shape[1])]
    np.testing.assert_allclose(ap, expected, atol=1e-12)
