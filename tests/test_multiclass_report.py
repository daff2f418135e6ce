"""Mueller et al.'s projection: the plane through three class templates."""
import numpy as np
import pytest

from lsml_core.multiclass.report import template_plane


def test_plane_is_orthonormal_and_keeps_the_templates_distances():
    templates = np.random.default_rng(0).normal(size=(3, 16))
    basis = template_plane(templates)
    assert basis.shape == (2, 16) and np.allclose(basis @ basis.T, np.eye(2))
    projected = templates @ basis.T
    for i, j in ((0, 1), (0, 2), (1, 2)):   # the templates lie in the plane: their distances are kept
        assert np.linalg.norm(projected[i] - projected[j]) == pytest.approx(np.linalg.norm(templates[i] - templates[j]))


def test_a_direction_orthogonal_to_the_plane_projects_to_zero():
    templates = np.eye(3, 5)
    assert np.allclose(np.array([0, 0, 0, 1.0, -2.0]) @ template_plane(templates).T, 0)
    with pytest.raises(ValueError, match="three class templates"):
        template_plane(np.eye(2, 5))
