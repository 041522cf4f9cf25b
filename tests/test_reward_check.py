"""The reward-scale check's rule (nqmix_core/reward_check.py) by hand: a run's curve mean and final, the paired
interval, and the decision at its edges (exactly 4 cells helped, one cell harmed, 3 helped)."""
from __future__ import annotations

import pytest
from scipy import stats

from nqmix_core import reward_check
from nqmix_core.results import load_runs
from tests.test_claims import write_run

CELLS = [(env, algo) for env in ("smax:3m", "smax:2s3z") for algo in ("nqmix", "qmix", "coma")]


def test_a_runs_curve_mean_and_final_by_hand(tmp_path):
    write_run(tmp_path, "smax:3m", "qmix", 1, 300, {
        "t_env": [0, 100, 200, 300, 400], "test_greedy_win_rate": [0.0, 0.25, 0.5, 1.0, 0.0],  # 400 is past t_max
        "test_stochastic_win_rate": [0.0] * 5})
    write_run(tmp_path, "smax:3m", "qmix", 3, 300, {  # seed 3 is not one of the check's seeds
        "t_env": [0, 300], "test_greedy_win_rate": [0.0, 1.0], "test_stochastic_win_rate": [0.0] * 2})
    write_run(tmp_path, "smax:3m", "nqmix-m", 0, 300, {  # nor is NQMIX-M one of its methods
        "t_env": [0, 300], "test_greedy_win_rate": [0.0, 1.0], "test_stochastic_win_rate": [0.0] * 2})
    rows = reward_check.per_run(load_runs(tmp_path)).to_dict("records")
    assert rows == [{"map": "3m", "method": "QMIX", "seed": 1, "curve_mean": 0.4375, "final": 0.75}]


def test_the_paired_interval_by_hand():
    low, high = reward_check._paired_interval(reward_check.pd.Series([0.1, 0.2, 0.4]))
    half = stats.t.ppf(0.975, 2) * reward_check.pd.Series([0.1, 0.2, 0.4]).std(ddof=1) / 3 ** 0.5
    assert (low, high) == pytest.approx((0.7 / 3 - half, 0.7 / 3 + half))
    assert reward_check._paired_interval(reward_check.pd.Series([0.25, 0.25, 0.25])) == (0.25, 0.25)
    assert reward_check._paired_interval(reward_check.pd.Series([0.5])) == (0.5, 0.5)
    half = stats.t.ppf(0.975, 1) * reward_check.pd.Series([0.1, 0.3]).std(ddof=1) / 2 ** 0.5  # two seeds suffice
    assert reward_check._paired_interval(reward_check.pd.Series([0.1, 0.3])) == pytest.approx((0.2 - half, 0.2 + half))


def grid(root, differences: dict, spread: dict | None = None):
    """Scale-1 runs at 0.5 under root/1, scale-10 runs at 0.5 + the cell's difference ± its spread under root/10;
    every run flat, so its curve mean and its final are the same number."""
    for seed in range(3):
        for env, algo in CELLS:
            jitter = (seed - 1) * (spread or {}).get((env, algo), 0.01)
            for scale, rate in (("1", 0.5), ("10", 0.5 + differences[env, algo] + jitter)):
                write_run(root / scale, env, algo, seed, 300, {
                    "t_env": [0, 300], "test_greedy_win_rate": [rate] * 2, "test_stochastic_win_rate": [rate] * 2})
    return reward_check.decide(root / "10", root / "1")


ADOPT = {("smax:3m", "nqmix"): 0.2, ("smax:3m", "qmix"): 0.1, ("smax:3m", "coma"): -0.05,
         ("smax:2s3z", "nqmix"): 0.1, ("smax:2s3z", "qmix"): 0.1, ("smax:2s3z", "coma"): -0.02}
WIDE = {("smax:3m", "coma"): 0.1, ("smax:2s3z", "coma"): 0.1, ("smax:2s3z", "qmix"): 0.1}  # no harm can be shown


def test_four_cells_helped_a_positive_mean_and_no_harm_adopt_scale_10(tmp_path):
    verdict = grid(tmp_path, ADOPT, WIDE)
    assert (verdict.helped, verdict.harmed, verdict.adopt, verdict.default) == (4, [], True, 10.0)
    assert verdict.mean_difference == pytest.approx(0.43 / 6)
    assert verdict.text() == ("Reward scale 10 helps 4 of 6 cells (rule: at least 4), mean paired curve-mean "
                              "difference +0.072 (rule: above 0), harms no cell: the default for smax maps is 10.")
    cell = verdict.table.set_index(["map", "method"]).loc[("3m", "NQMIX")]
    assert (cell["seeds"], cell["curve_mean_1"], cell["final_1"]) == (3, 0.5, 0.5)
    assert cell["curve_mean_10"] == pytest.approx(0.7) == pytest.approx(cell["final_10"])
    assert cell["d_curve"] == pytest.approx(0.2) == pytest.approx(cell["d_final"])


def test_one_harmed_cell_keeps_scale_1(tmp_path):
    verdict = grid(tmp_path, ADOPT, {**WIDE, ("smax:3m", "coma"): 0.01})  # COMA on 3m: −0.05 ± 0.01, surely lower
    assert verdict.harmed == ["COMA on 3m"] and not verdict.adopt and verdict.default == 1.0
    assert verdict.text().endswith("harms COMA on 3m: the default for smax maps is 1.")


def test_three_cells_helped_keep_scale_1(tmp_path):
    verdict = grid(tmp_path, {**ADOPT, ("smax:2s3z", "qmix"): -0.02}, WIDE)
    assert (verdict.helped, verdict.harmed, verdict.adopt) == (3, [], False)


def test_a_mean_difference_of_exactly_zero_keeps_scale_1(tmp_path):
    up, down = 0.125, -0.25  # binary fractions: four cells up and two down sum to exactly 0
    differences = {cell: (down if cell[1] == "coma" else up) for cell in CELLS}
    verdict = grid(tmp_path, differences, {cell: 0.125 if cell[1] != "coma" else 0.25 for cell in CELLS})
    assert (verdict.helped, verdict.harmed, verdict.mean_difference, verdict.adopt) == (4, [], 0.0, False)


def test_a_cell_the_scale_leaves_unchanged_neither_helps_nor_harms(tmp_path):
    verdict = grid(tmp_path, {**ADOPT, ("smax:2s3z", "coma"): 0.0}, {**WIDE, ("smax:2s3z", "coma"): 0.0})
    cell = verdict.table.set_index(["map", "method"]).loc[("2s3z", "COMA")]
    assert (cell["d_curve"], cell["d_final_low"], cell["d_final_high"]) == (0.0, 0.0, 0.0)
    assert verdict.helped == 4 and verdict.harmed == []  # an interval ending at 0 does not lie below it


def test_no_paired_run_decides_nothing(tmp_path):
    write_run(tmp_path / "10", "smax:3m", "qmix", 0, 300, {"t_env": [0, 300], "test_greedy_win_rate": [0, 1],
                                                           "test_stochastic_win_rate": [0, 1]})
    write_run(tmp_path / "1", "smax:2s3z", "qmix", 0, 300, {"t_env": [0, 300], "test_greedy_win_rate": [0, 1],
                                                            "test_stochastic_win_rate": [0, 1]})
    verdict = reward_check.decide(tmp_path / "10", tmp_path / "1")
    assert (verdict.helped, verdict.adopt, verdict.default) == (0, False, 1.0)
