"""Figures stay readable: the shared legend below the panels is never cut off at the figure's edges."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import math  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from nqmix_core.plotting import learning_curves  # noqa: E402


def runs(maps: list[str]) -> pd.DataFrame:
    rows = [{"map": m, "method": method, "seed": seed, "t_eval": t, "test_greedy_win_rate": 0.1 * seed,
             "test_stochastic_win_rate": 0.05 * seed}
            for m in maps for method in ("NQMIX", "QMIX", "COMA") for seed in range(3) for t in (0, 100_000, 200_000)]
    return pd.DataFrame(rows)


def test_the_legend_of_two_narrow_panels_with_five_entries_fits_inside_the_figure():
    script = {"win_rate": 0.8, "win_rate_low": 0.75, "win_rate_high": 0.85, "policy": "script-weakest"}
    fig = learning_curves(runs(["2s3z", "3s5z"]), ["2s3z", "3s5z"], ["NQMIX", "QMIX", "COMA"],
                          references={"2s3z": script, "3s5z": script}, marks=(100_000,))
    fig.canvas.draw()
    (legend,) = fig.legends
    assert len(legend.get_texts()) == 5
    for text in legend.get_texts():
        box = text.get_window_extent()
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width, text.get_text()  # no label runs off either side
    bottom_of_axes = min(ax.get_position().y0 for ax in fig.axes) * fig.bbox.height
    x_labels = [ax.xaxis.label.get_window_extent() for ax in fig.axes]
    assert legend.get_window_extent().y1 <= min(box.y0 for box in x_labels) < bottom_of_axes  # under the x labels


def test_three_entries_stay_on_one_row():
    fig = learning_curves(runs(["3m", "2s3z", "3s5z"]), ["3m", "2s3z", "3s5z"], ["NQMIX", "QMIX", "COMA"])
    fig.canvas.draw()
    heights = {round(t.get_window_extent().y0) for t in fig.legends[0].get_texts()}
    assert len(heights) == 1


def test_neighbouring_panel_titles_do_not_run_into_each_other():
    data = runs(["2s3z", "3s5z"])
    data = data[~((data["method"] == "COMA") & (data["seed"] == 2))]  # unequal seed counts: the long title
    for frame in (runs(["2s3z", "3s5z"]), data):
        fig = learning_curves(frame, ["2s3z", "3s5z"], ["NQMIX", "QMIX", "COMA"])
        fig.canvas.draw()
        left, right = (ax.title.get_window_extent() for ax in fig.axes[:2])
        assert left.x1 < right.x0, (fig.axes[0].get_title(), fig.axes[1].get_title())
        assert 0 <= left.x0 and right.x1 <= fig.bbox.width


def test_a_panel_title_says_how_many_seeds_each_method_has():
    from nqmix_core.plotting import seed_title
    assert seed_title("3m", {"NQMIX": 5, "QMIX": 5}, ["NQMIX", "QMIX"]) == "3m (5 seeds each)"
    assert seed_title("3m", {"NQMIX": 1}, ["NQMIX"]) == "3m (1 seed each)"
    assert seed_title("3m", {"NQMIX": 5, "QMIX": 3}, ["NQMIX", "QMIX", "COMA"]) == "3m\n(seeds: NQMIX 5, QMIX 3, COMA 0)"
    # most methods agree: their count once, the others by name (short enough for a narrow panel)
    assert seed_title("3s5z", {"NQMIX": 5, "QMIX": 5, "NQMIX+mono": 1}, ["NQMIX", "NQMIX+mono", "QMIX"]) == \
        "3s5z\n(5 seeds each, NQMIX+mono 1)"
    assert seed_title("3m", {"NQMIX": 2, "QMIX": 2}, ["NQMIX", "QMIX", "COMA"]) == "3m\n(2 seeds each, COMA 0)"



def test_the_band_is_the_claims_interval_of_the_seeds_and_a_missing_value_is_left_out():
    """The line is the mean over seeds and the band the 95% t-interval of ``results.mean_interval`` (by hand:
    three seeds at 0.4, 0.5, 0.6 give 0.5 ± t(0.975, 2)·0.1/√3); a NaN seed is dropped, as the claims do."""
    data = pd.DataFrame({"map": "3m", "method": "QMIX", "seed": [0, 1, 2, 3] * 2, "t_eval": [0] * 4 + [5000] * 4,
                         "test_greedy_win_rate": [0.1, 0.1, 0.1, 0.1, 0.4, 0.5, 0.6, math.nan]})
    ax = learning_curves(data, ["3m"], ["QMIX"], metrics=("test_greedy_win_rate",)).axes[0]
    (line,) = [line for line in ax.get_lines() if line.get_label() == "QMIX"]
    assert list(line.get_xdata()) == [0, 5000] and list(line.get_ydata()) == [pytest.approx(0.1), pytest.approx(0.5)]
    (band,) = ax.collections
    at_5000 = [y for x, y in band.get_paths()[0].vertices if x == 5000]
    half = stats.t.ppf(0.975, 2) * 0.1 / 3 ** 0.5
    assert (min(at_5000), max(at_5000)) == (pytest.approx(0.5 - half), pytest.approx(0.5 + half))
    assert {round(y, 12) for x, y in band.get_paths()[0].vertices if x == 0} == {0.1}  # no spread: a point
