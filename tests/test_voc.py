"""VOC-format parsing: single and many objects, difficult policies, clear errors."""

import numpy as np
import pytest

from lsml_core.datasets.voc import (
    VOC_CLASSES,
    DataMissingError,
    VOCMultiLabel,
    encode_labels,
    parse_annotation,
    resolve_voc_root,
)

IDX = {name: i for i, name in enumerate(VOC_CLASSES)}


def test_classes_are_the_standard_alphabetical_twenty():
    assert len(VOC_CLASSES) == 20 and list(VOC_CLASSES) == sorted(VOC_CLASSES)


def test_single_object_xml(voc_folder):
    filename, objects = parse_annotation(voc_folder / "Annotations" / "2008_000001.xml")
    assert filename == "2008_000001.jpg"
    assert [(o.name, o.difficult) for o in objects] == [("dog", False)]


def test_many_objects_and_ignore_policy(voc_folder):
    data = VOCMultiLabel(voc_folder, "train")
    assert data.ids == ["2008_000001", "2008_000002", "2008_000003"]
    target, mask = data.targets[1], data.masks[1]
    assert set(np.flatnonzero(target)) == {IDX["person"], IDX["car"]}
    assert mask[IDX["bottle"]] == 0 and mask.sum() == 19  # only-difficult bottle: ignored
    cat_target, cat_mask = data.targets[2], data.masks[2]
    assert cat_target[IDX["cat"]] == 1 and cat_mask[IDX["cat"]] == 1  # difficult + clear cat: a positive
    assert cat_target[IDX["chair"]] == 0 and cat_mask[IDX["chair"]] == 0


@pytest.mark.parametrize("policy, chair_target", [("negative", 0.0), ("positive", 1.0)])
def test_other_difficult_policies(voc_folder, policy, chair_target):
    data = VOCMultiLabel(voc_folder, "train", difficult=policy)
    assert data.targets[2][IDX["chair"]] == chair_target
    assert data.masks.min() == 1.0


def test_items_are_image_target_mask(voc_folder):
    image, target, mask = VOCMultiLabel(voc_folder, "train")[0]
    assert image.size == (50, 40) and target.shape == (20,) and mask.shape == (20,)


def test_unknown_policy_and_class():
    with pytest.raises(ValueError, match="ignore, negative, positive"):
        encode_labels([], VOC_CLASSES, "drop")
    from lsml_core.datasets.voc import VOCObject

    with pytest.raises(ValueError, match="'unicorn' is not in the class list"):
        encode_labels([VOCObject("unicorn", False)], VOC_CLASSES)


def test_missing_split_and_root(voc_folder, tmp_path):
    with pytest.raises(DataMissingError, match="val.txt"):
        VOCMultiLabel(voc_folder, "val")
    assert resolve_voc_root(tmp_path) == voc_folder
    with pytest.raises(DataMissingError, match="VOCdevkit"):
        resolve_voc_root(tmp_path / "nowhere")


def test_corrupt_image_names_the_file(voc_folder):
    (voc_folder / "JPEGImages" / "2008_000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="2008_000001.jpg is corrupt"):
        VOCMultiLabel(voc_folder, "train")[0]


def test_broken_xml_is_reported(voc_folder):
    (voc_folder / "Annotations" / "2008_000002.xml").write_text("<annotation><object>")
    with pytest.raises(ValueError, match="not valid XML"):
        VOCMultiLabel(voc_folder, "train")
