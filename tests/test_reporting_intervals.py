"""The accuracy interval of Table 1 and the claims check: exact binomial bounds, checked by hand."""

import pytest

from emcom.reporting.intervals import accuracy_interval


def test_no_success_in_ten_items_has_the_textbook_upper_bound():
    # Clopper–Pearson with k = 0: the lower bound is 0 and the upper solves (1 - p)^n = alpha / 2
    low, high = accuracy_interval(0.0, 10)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 10))


def test_the_interval_is_symmetric_and_narrows_with_more_items():
    low, high = accuracy_interval(1.0, 10)
    assert (low, high) == pytest.approx((0.025 ** (1 / 10), 1.0))
    at_2048 = accuracy_interval(64 / 2048, 2048)
    at_8192 = accuracy_interval(256 / 8192, 8192)
    assert at_2048[0] < 64 / 2048 < at_2048[1]
    # four times the items: about half the width (the standard error goes as 1 / sqrt(n))
    ratio = (at_8192[1] - at_8192[0]) / (at_2048[1] - at_2048[0])
    assert ratio == pytest.approx(0.5, abs=0.02)


def test_a_bad_count_or_fraction_is_refused_by_name():
    with pytest.raises(ValueError, match="items=0"):
        accuracy_interval(0.5, 0)
    with pytest.raises(ValueError, match="fraction"):
        accuracy_interval(50.0, 100)  # a percentage, not a fraction
