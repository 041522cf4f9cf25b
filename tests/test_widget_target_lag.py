"""The target-lag explorer of notebook 03 against hand computations."""
import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from nqmix_core.teaching.widgets import TargetLagExplorer  # noqa: E402
from nqmix_core.teaching.widgets.target_lag import drift_lag, follow, half_life, online_ramp  # noqa: E402


def test_rates_half_life_and_lag_match_the_formulas():
    explorer = TargetLagExplorer(tau=0.001, n_steps=71)
    rate = 1 - 0.999 ** 71
    assert explorer.rates()["per time step"] == pytest.approx(rate, rel=1e-12)
    assert explorer.rates()["once per update"] == pytest.approx(0.001, rel=1e-12)
    assert half_life(rate) == pytest.approx(math.log(2) / -math.log(1 - rate))
    assert half_life(rate) == pytest.approx(math.log(2) / (71 * -math.log(0.999)))  # T per-step half-lives
    assert half_life(0.5) == pytest.approx(1.0) and drift_lag(0.5) == pytest.approx(1.0)
    assert f"half-life {half_life(rate):.1f} updates" in explorer.summary
    assert f"rate r = {rate:.4f}" in explorer.summary


def test_the_target_follows_a_step_and_a_ramp_as_the_formulas_say():
    rate = 0.1
    step = follow(torch.ones(50, dtype=torch.float64), rate)  # the online value jumps to 1 and stays
    assert step[k := 9].item() == pytest.approx(1 - (1 - rate) ** (k + 1))
    assert step[round(half_life(rate)) - 1].item() == pytest.approx(0.5, abs=0.05)
    ramp = online_ramp(400)  # slope 1/200 per update for 200 updates
    target = follow(ramp, rate)
    lag = (ramp[199] - target[199]).item() * 200  # in updates, once settled on the ramp
    assert lag == pytest.approx(drift_lag(rate), rel=1e-3)


def test_moving_the_sliders_redraws_and_changes_the_half_life():
    explorer = TargetLagExplorer(tau=0.001, n_steps=60)
    first = explorer.summary
    assert len(explorer.output.outputs) == 2  # the figure and the summary
    second = explorer.update(tau=0.01)
    assert second != first and explorer.tau.value == pytest.approx(0.01)
    assert f"half-life {half_life(1 - 0.99 ** 60):.1f} updates" in second
    explorer.n_steps.value = 10  # as a student's slider does
    assert explorer.summary != second and "T = 10 time steps" in explorer.summary
    assert len(explorer.output.outputs) == 2
