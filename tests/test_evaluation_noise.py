"""Telling a fall in a learning curve from evaluation noise: win counts, the SE of a difference, Fisher."""
from __future__ import annotations

import math

import pytest

from nqmix_core.teaching.evaluation_noise import change_test, consecutive_changes, largest_fall, win_counts


def test_win_counts_refuse_rates_that_are_not_whole_wins():
    assert win_counts([0.0, 0.4375, 1.0], 16).tolist() == [0, 7, 16]
    with pytest.raises(ValueError, match="whole numbers"):
        win_counts([0.3], 16)


def test_change_test_on_a_fall_from_7_to_0_of_16():
    result = change_test(7, 0, 16)
    pooled = 7 / 32
    assert result["change"] == pytest.approx(-7 / 16)
    assert result["se_change"] == pytest.approx(math.sqrt(2 * pooled * (1 - pooled) / 16))
    assert result["z"] == pytest.approx(-2.99, abs=0.01)
    assert result["p_value"] == pytest.approx(0.0068, abs=1e-4)  # Fisher's exact test, two-sided


def test_equal_evaluations_are_no_change():
    result = change_test(0, 0, 16)
    assert (result["change"], result["se_change"], result["z"], result["p_value"]) == (0, 0, 0, 1)


def test_largest_fall_beyond_noise_after_bonferroni():
    changes = consecutive_changes([0, 7 / 16, 0, 8 / 16], [0, 100, 200, 300], 16)
    assert changes[["wins_before", "wins_after"]].values.tolist() == [[0, 7], [7, 0], [0, 8]]
    fall = largest_fall(changes, 16)
    assert (fall["from_step"], fall["to_step"]) == (100, 200)
    assert fall["p_adjusted"] == pytest.approx(3 * fall["p_value"])
    assert fall["beyond_noise"] and fall["telling_wins"] == 0


def test_a_small_fall_is_within_noise_and_a_rising_curve_has_none():
    fall = largest_fall(consecutive_changes([0.5, 0.375], [0, 1], 16), 16)
    assert not fall["beyond_noise"] and 0 <= fall["telling_wins"] < 6
    assert largest_fall(consecutive_changes([0, 0.25, 0.5], [0, 1, 2], 16), 16) is None
