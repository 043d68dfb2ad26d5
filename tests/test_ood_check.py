"""The OOD invariant (paper: no OOD class is a training class, nor a hypernym or hyponym of one) is
enforced, not only true of today's draw: a planted related class is refused by the check and by the build.
"""

from __future__ import annotations

import pytest

from data_fixtures import CAT, DOG, POODLE, TRUCK
from emcom.data import stamps as stamps_module
from emcom.data.splits import check_ood_split

pytestmark = pytest.mark.debian

CAR = "n02958343"  # noun.artifact, like truck


def test_an_unrelated_ood_class_in_a_training_domain_passes(wordnet):
    check_ood_split([DOG, TRUCK], [CAT, CAR], wordnet)  # no exception


@pytest.mark.parametrize("train,ood,culprit", [
    ([DOG, TRUCK], [POODLE], POODLE),  # OOD hyponym of a training class
    ([POODLE, TRUCK], [DOG], DOG),  # OOD hypernym of a training class
    ([DOG, TRUCK], [CAT, DOG], DOG),  # a training class itself
])
def test_a_planted_related_class_is_refused(wordnet, train, ood, culprit):
    with pytest.raises(ValueError, match=f"OOD class {culprit} is related"):
        check_ood_split(train, ood, wordnet)


def test_an_ood_class_outside_every_training_domain_is_refused(wordnet):
    with pytest.raises(ValueError, match=f"OOD class {CAR} .*in no training domain"):
        check_ood_split([DOG, CAT], [CAR], wordnet)


def test_the_build_refuses_a_draw_that_breaks_the_invariant(fake_stamps, nltk_data, tmp_path, monkeypatch):
    """If the draw ever returned a hyponym of a training class, the dataset must not be written."""
    table, deb = fake_stamps
    monkeypatch.setattr(stamps_module, "choose_ood_classes", lambda wnids, *args, **kwargs: [POODLE])
    config = {"image_size": 24, "train_per_stamp": 1, "val_per_stamp": 1, "ood_per_stamp": 1,
              "ood_fraction": 0.25, "seed": 5, "table": str(table)}
    with pytest.raises(ValueError, match=f"OOD class {POODLE} is related"):
        stamps_module.build_stamps_dataset(tmp_path / "stamps", config, deb.parent, nltk_data, processes=1,
                                           package_deb=deb)
    assert not (tmp_path / "stamps").exists()
