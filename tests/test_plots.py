"""Figures every track draws: their layout."""

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from lsml_core.plots import reliability_diagrams  # noqa: E402


def curve():
    points = (np.array([0.2, 0.6]), np.array([0.25, 0.55]), np.array([10, 10]))
    return {"before": points, "after": points, "temperature": 1.1, "ece_before": 0.05, "ece_after": 0.04}


def test_reliability_diagrams_wrap_each_models_arms_after_four_panels():
    curves = {"ResNet-18": {f"arm {i}": curve() for i in range(7)}, "MobileNetV2": {"a": curve(), "b": curve()}}
    figure = reliability_diagrams(curves, "title")
    shown = [ax for ax in figure.axes if ax.axison]
    assert len(figure.axes) == 3 * 4 and len(shown) == 9
    assert [ax.get_title() for ax in shown][:3] == ["MobileNetV2: a", "MobileNetV2: b", "ResNet-18: arm 0"]


def test_without_curves_there_is_no_reliability_figure():
    assert reliability_diagrams({}, "a profile with no clean-label runs") is None
