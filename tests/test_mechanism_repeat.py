"""The 3s5z repeat's rule (nqmix_core/mechanism_repeat.py) on runs whose verdicts are known."""
from __future__ import annotations

import pandas as pd

from nqmix_core import mechanism_repeat as repeat
from tests.test_claims import write_run
from tests.test_mechanism import long_grid

APART = {"NQMIX": (0.1, 0.2, 0.0, 0.15, 0.1), "QMIX": (0.9, 0.8, 0.85, 0.95, 0.9),
         "NQMIX+mono": (0.6, 0.7, 0.5, 0.6, 0.65)}


def on_3s5z(finals: dict, first_seed: int) -> pd.DataFrame:
    runs = long_grid({(m, "3s5z"): v for m, v in finals.items()})
    return runs.assign(seed=runs["seed"] + first_seed)


def test_the_fresh_seeds_are_the_record_and_the_pooled_look_waits_for_seeds_0_to_4():
    got = repeat.reading(on_3s5z(APART, 5)).set_index(["seeds", "at"])
    record = got.loc["5–9 (record)"]
    assert record.index.tolist() == ["300k", "1M"]
    assert record["against NQMIX"].tolist() == ["beats NQMIX"] * 2
    assert record["against QMIX"].tolist() == record["NQMIX against QMIX"].tolist() == ["below QMIX"] * 2
    assert "NQMIX 0.11 vs QMIX 0.88, difference -0.77" in record.loc["1M", "evidence"]
    pooled = got.loc["0–9 pooled (second look)"]
    assert set(pooled["NQMIX against QMIX"]) == {"pending (NQMIX+mono 5, NQMIX 5, QMIX 5 of 10 seeds)"}


def test_nqmix_against_qmix_reads_above_inconclusive_and_pending():
    flipped = dict(APART, NQMIX=APART["QMIX"], QMIX=APART["NQMIX"])
    assert set(repeat.reading(on_3s5z(flipped, 5)).head(2)["NQMIX against QMIX"]) == {"above QMIX"}
    level = dict(APART, QMIX=(0.5, 0.0, 0.4, 0.1, 0.1))  # NQMIX's mean, far wider
    assert set(repeat.reading(on_3s5z(level, 5)).head(2)["NQMIX against QMIX"]) == {"inconclusive"}
    short = on_3s5z(APART, 5)
    short = short[~((short["method"] == "QMIX") & (short["seed"] == 9))]
    assert set(repeat.reading(short).head(2)["NQMIX against QMIX"]) == {"pending (QMIX 4 of 5 seeds)"}


def test_pooling_ten_seeds_can_decide_what_five_leave_open():
    earlier = {"NQMIX": (0.4, 0.6, 0.5, 0.7, 0.3), "QMIX": (0.8, 0.5, 0.9, 0.6, 0.7),
               "NQMIX+mono": (0.6, 0.7, 0.5, 0.6, 0.65)}  # the same draws on both sets of seeds
    runs = pd.concat([on_3s5z(earlier, 0), on_3s5z(earlier, 5)], ignore_index=True)
    got = repeat.reading(runs).set_index(["seeds", "at"])
    assert got.loc[("5–9 (record)", "1M"), "NQMIX against QMIX"] == "inconclusive"  # -0.20 [-0.43, +0.03]
    assert got.loc[("0–9 pooled (second look)", "1M"), "NQMIX against QMIX"] == "below QMIX"  # -0.20 [-0.34, -0.06]


def test_each_look_takes_its_seeds_from_its_own_folder(tmp_path):
    assert repeat.repeat_runs(tmp_path, tmp_path / "long_1m") is None

    def run(folder, env, algo, seed, rate):
        write_run(tmp_path / folder, env, algo, seed, 100, {"t_env": [0, 100], "test_greedy_win_rate": [0.0, rate],
                                                            "test_stochastic_win_rate": [0.0, rate]})
    run(repeat.REPEAT, "smax:3s5z", "nqmix-mono", 5, 0.5)
    run(repeat.REPEAT, "smax:3s5z", "nqmix-mono", 0, 0.9)  # not a seed of the repeat: the 1M grid's seed 0 counts
    run("long", "smax:3s5z", "nqmix-mono", 0, 0.1)
    run("long", "smax:2s3z", "nqmix-mono", 0, 0.1)  # another map
    for algo, seed in (("qmix", 0), ("qmix", 5), ("coma", 0)):  # long_1m's seed 5 and its COMA are not read
        run("long_1m", "smax:3s5z", algo, seed, 0.3)
    runs = repeat.repeat_runs(tmp_path, tmp_path / "long_1m")
    assert set(runs["map"]) == {"3s5z"}
    last = runs[runs["t_env"] == 100].set_index(["algo", "seed"])["test_greedy_win_rate"].sort_index()
    assert last.to_dict() == {("nqmix-mono", 0): 0.1, ("nqmix-mono", 5): 0.5, ("qmix", 0): 0.3}
