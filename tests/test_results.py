"""Reading sweep folders, final win rates, the Welch comparison and the claims verdicts, `nqmix plot`."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from nqmix_core import claims as claims_module, cli, results, run_table
from nqmix_core.errors import UserError

DATA = Path(__file__).resolve().parents[1] / "data"


def write_run(root, env, algo, seed, win_rates, interval=5000):
    """A fake run folder as `nqmix train` writes it, with the given greedy win rate per evaluation."""
    folder = root / env.replace(":", "-") / algo / f"seed{seed}"
    folder.mkdir(parents=True)
    steps = [0] + [k * interval + 37 * seed + 11 for k in range(1, len(win_rates))]  # never exactly on the grid
    pd.DataFrame({"t_env": steps, "test_greedy_win_rate": win_rates,
                  "test_stochastic_win_rate": [w / 2 for w in win_rates]}).to_csv(folder / "progress.csv", index=False)
    config = {"env": env, "algo": algo, "seed": seed, "t_max": steps[-1], "test_interval": interval}
    (folder / "manifest.json").write_text(json.dumps({"run_config": config, "status": "finished"}))


def grid(root, finals: dict[tuple[str, str], list[float]]):
    """Runs whose last two evaluations both equal the given final win rate, one per seed."""
    for (map_name, algo), values in finals.items():
        for seed, value in enumerate(values):
            write_run(root, f"smax:{map_name}", algo, seed, [0.0, value / 2, value, value])


def test_load_runs_aligns_evaluations_and_labels(tmp_path):
    write_run(tmp_path, "smax:3m", "nqmix-m", 4, [0.0, 0.25, 0.5])
    runs = results.load_runs(tmp_path)
    assert list(runs["t_eval"]) == [0, 5000, 10000]
    assert set(runs["method"]) == {"NQMIX-M"} and set(runs["map"]) == {"3m"} and set(runs["seed"]) == {4}
    final = results.final_win_rates(runs)
    assert final["final"].tolist() == [0.375]  # mean of the last two evaluations
    with pytest.raises(UserError, match="nqmix sweep"):
        results.load_runs(tmp_path / "empty")


def test_compare_is_welchs_interval(tmp_path):
    grid(tmp_path, {("3m", "nqmix"): [0.5, 0.7, 0.9], ("3m", "qmix"): [0.1, 0.2, 0.6]})
    c = results.compare(results.final_win_rates(results.load_runs(tmp_path)), "3m", "NQMIX", "QMIX")
    a, b = [0.5, 0.7, 0.9], [0.1, 0.2, 0.6]
    hand = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)  # scipy's own Welch interval
    assert c.difference == pytest.approx(0.4)
    assert (c.low, c.high) == (pytest.approx(hand.low), pytest.approx(hand.high))
    assert c.outcome == "unclear"  # the interval [-0.16, 0.96] straddles 0 and is wide


@pytest.mark.parametrize("nqmix, qmix, coma, verdict", [
    ([0.80, 0.82, 0.81], [0.50, 0.52, 0.51], [0.10, 0.12, 0.11], "holds"),          # clear order
    ([0.50, 0.52, 0.51], [0.80, 0.82, 0.81], [0.10, 0.12, 0.11], "does not hold"),  # QMIX clearly better
    ([0.50, 0.51, 0.52], [0.50, 0.52, 0.51], [0.10, 0.12, 0.11], "holds"),          # NQMIX ≈ QMIX is allowed
    ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], "inconclusive"),            # nobody learned: no decisive tie
    ([0.1, 0.9, 0.4], [0.50, 0.52, 0.51], [0.10, 0.12, 0.11], "inconclusive"),      # NQMIX too noisy
])
def test_claim_c3_verdicts(tmp_path, nqmix, qmix, coma, verdict):
    finals = {}
    for map_name in ("2s3z", "3s5z"):
        finals.update({(map_name, "nqmix"): nqmix, (map_name, "qmix"): qmix, (map_name, "coma"): coma,
                       (map_name, "nqmix-m"): nqmix})
    finals.update({("3m", a): [0.5, 0.5, 0.5] for a in ("nqmix", "qmix", "coma")})
    grid(tmp_path, finals)
    claims = claims_module.smac_table(results.final_win_rates(results.load_runs(tmp_path))).set_index("claim")
    assert claims.loc["C3", "verdict"] == verdict
    assert "2s3z: NQMIX" in claims.loc["C3", "evidence"]


@pytest.mark.parametrize("ablation, verdict", [([0.30, 0.31, 0.32], "holds"), ([0.50, 0.51, 0.52], "holds"),
                                               ([0.80, 0.81, 0.82], "does not hold"), ([0.1, 0.9, 0.3], "inconclusive")])
def test_claim_c5_ablation(tmp_path, ablation, verdict):
    finals = {("3m", a): [0.5, 0.5, 0.5] for a in ("nqmix", "qmix", "coma")}
    for map_name in ("2s3z", "3s5z"):
        finals.update({(map_name, a): [0.50, 0.51, 0.52] for a in ("nqmix", "qmix", "coma")})
        finals[(map_name, "nqmix-m")] = ablation
    grid(tmp_path, finals)
    claims = claims_module.smac_table(results.final_win_rates(results.load_runs(tmp_path))).set_index("claim")
    assert claims.loc["C5", "verdict"] == verdict


@pytest.mark.parametrize("nqmix, verdict", [([0.55, 0.56, 0.57], "holds"), ([0.95, 0.96, 0.97], "does not hold"),
                                            ([0.0, 0.01, 0.02], "does not hold"), ([0.2, 0.9, 0.5], "inconclusive")])
def test_claim_c4_between_either_way_round(tmp_path, nqmix, verdict):
    finals = {("3m", "nqmix"): nqmix, ("3m", "qmix"): [0.30, 0.31, 0.32], ("3m", "coma"): [0.80, 0.81, 0.82]}
    for map_name in ("2s3z", "3s5z"):
        finals.update({(map_name, a): [0.5, 0.5, 0.5] for a in ("nqmix", "qmix", "coma", "nqmix-m")})
    grid(tmp_path, finals)
    claims = claims_module.smac_table(results.final_win_rates(results.load_runs(tmp_path))).set_index("claim")
    assert claims.loc["C4", "verdict"] == verdict


def test_nqmix_plot_writes_figures_and_tables(tmp_path):
    finals = {}
    for map_name in ("3m", "2s3z", "3s5z"):
        for algo, base in (("nqmix", 0.6), ("qmix", 0.4), ("coma", 0.1), ("nqmix-m", 0.3)):
            if map_name == "3m":  # the paper's 3m order: NQMIX between QMIX and COMA
                base = {"nqmix": 0.4, "qmix": 0.6}.get(algo, base)
            finals[(map_name, algo)] = [base, base + 0.02, base + 0.04]
    grid(tmp_path / "sweep", finals)
    assert cli.main(["plot", str(tmp_path / "sweep"), "--out", str(tmp_path / "figs")]) == 0
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert names == ["claims.csv", "claims.md", "cpu_hours.csv", "figure2.png", "figure3.png", "final_win_rates.csv"]
    claims = pd.read_csv(tmp_path / "figs" / "claims.csv").set_index("claim")
    assert list(claims.index) == ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "R"]
    assert claims.loc["C3", "budget"] == "3m 15k, 2s3z 15k, 3s5z 15k"  # four evaluations, 5,000 steps apart
    assert claims.loc["R", "verdict"] == "not measured"  # no reference folder given
    smac = {c: claims.loc[c, "verdict"] for c in ("C3", "C4", "C5")}
    assert smac == {"C3": "holds", "C4": "holds", "C5": "holds"}
    # no matrix or continuous folder given, and the fake runs log no diagnostics nor sizes: not measured
    assert {c: claims.loc[c, "verdict"] for c in ("C1", "C2", "C6", "C7")} == dict.fromkeys(
        ("C1", "C2", "C6", "C7"), "not measured")
    runs = results.load_runs(tmp_path / "sweep")  # the stochastic verdicts are smac_table's on those win rates
    stochastic = claims_module.smac_table(results.final_win_rates(runs, "test_stochastic_win_rate"))
    assert claims.loc[["C3", "C4", "C5"], "verdict (stochastic)"].tolist() == stochastic["verdict"].tolist()
    table = pd.read_csv(tmp_path / "figs" / "final_win_rates.csv")
    nqmix_3m = table[(table["map"] == "3m") & (table["method"] == "NQMIX")]
    assert math.isclose(nqmix_3m["mean (greedy)"].item(), 0.42)
    assert math.isclose(nqmix_3m["mean (stochastic)"].item(), 0.21)  # write_run's stochastic = greedy / 2


def test_time_to_win_rate_reads_the_first_evaluation_over_the_threshold_and_its_wall_time(tmp_path):
    from dataclasses import asdict

    from nqmix_core.config import RunConfig
    from nqmix_core.registry import algo_config

    def run(name, win_rates, **settings):
        folder = tmp_path / name
        folder.mkdir()
        steps = [0, 5003, 10011, 15007]
        pd.DataFrame({"t_env": steps, "updates": [0, 80, 160, 240],
                      "test_greedy_win_rate": win_rates}).to_csv(folder / "progress.csv", index=False)
        pd.DataFrame({"t_env": steps, "wall_seconds": [9.5, 20.0, 31.25, 40.0]}).to_csv(folder / "timing.csv", index=False)
        loop = {k: settings.pop(k) for k in ("updates_per_episode", "overlap_collection") if k in settings}
        scale = RunConfig(env="smax:3m").reward_scale  # a run made now, at SMAX's default scale
        manifest = {"run_config": {"algo": "nqmix", "env": "smax:3m", "seed": 3, "n_envs": 8, "reward_scale": scale, **loop},
                    "algo_config": asdict(algo_config("nqmix", **settings))}
        (folder / "manifest.json").write_text(json.dumps(manifest))
        return folder

    table = run_table.time_to_win_rate([run("fast", [0.0, 0.5, 0.84, 0.78], batch_size=8, tau=0.005),
                                      run("slow", [0.0, 0.2, 0.4, 0.6], updates_per_episode=0.25),
                                      run("paper", [0.0, 0.0, 0.8, 0.9]),
                                      run("overlap", [0.0, 0.0, 0.0, 0.0], overlap_collection=True)])
    fast, slow, paper, overlap = table.to_dict("records")
    assert (fast["first_t_env"], fast["first_seconds"], fast["best"]) == (10011, 31.25, 0.84)
    assert fast["final"] == pytest.approx(0.81) and fast["updates"] == 240 and fast["wall_seconds"] == 40.0
    assert fast["t_env"] == 15007  # the last row's steps
    assert fast["changed"] == "batch_size=8, tau=0.005" and fast["method"] == "NQMIX" and fast["seed"] == 3
    assert math.isnan(slow["first_t_env"]) and math.isnan(slow["first_seconds"])
    assert slow["changed"] == "updates_per_episode=0.25"
    assert paper["changed"] == "(paper)" and paper["first_t_env"] == 10011  # ≥, not >
    assert overlap["changed"] == "overlap_collection=True" and overlap["best"] == 0.0


def test_changed_settings_reads_an_old_manifest_as_tau_once_per_batch():
    from dataclasses import asdict

    from nqmix_core.config import RunConfig
    from nqmix_core.registry import algo_config

    run_config = asdict(RunConfig(algo="nqmix"))
    old = {k: v for k, v in asdict(algo_config("nqmix", batch_size=8)).items() if k not in ("tau_per_time_step",)}
    assert run_table.changed_settings({"run_config": run_config, "algo_config": old}) == "batch_size=8, tau_per_time_step=False"
    new = asdict(algo_config("nqmix", batch_size=8))
    assert run_table.changed_settings({"run_config": run_config, "algo_config": new}) == "batch_size=8"
    qmix = {k: v for k, v in asdict(algo_config("qmix")).items() if k != "tau_per_time_step"}  # hard targets
    assert run_table.changed_settings({"run_config": asdict(RunConfig(algo="qmix")), "algo_config": qmix}) == ""


def test_changed_settings_ignores_the_other_learners_fields_an_old_manifest_lists():
    """Manifests written while one flat AlgoConfig served every learner list COMA's td_lambda for QMIX too."""
    manifest = json.loads((DATA / "long_1m" / "smax-2s3z" / "qmix" / "seed0" / "manifest.json").read_text())
    assert {"td_lambda", "actor_objective", "entropy_coef"} <= set(manifest["algo_config"])
    assert run_table.changed_settings(manifest) == "batch_size=8"
    manifest["algo_config"]["double_q"] = False  # QMIX's own field still counts
    assert run_table.changed_settings(manifest) == "batch_size=8, double_q=False"


def test_partial_runs_are_listed_and_never_mixed_into_a_mean(tmp_path):
    grid(tmp_path, {("3m", "nqmix"): [0.5, 0.7]})
    write_run(tmp_path, "smax:3m", "nqmix", 2, [0.0, 0.9, 0.9, 0.9])
    manifest = tmp_path / "smax-3m" / "nqmix" / "seed2" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"finished"', '"running"'))  # killed before its end
    runs = results.load_runs(tmp_path)
    assert results.partial_runs(runs)[["seed", "status"]].values.tolist() == [[2, "running"]]
    final = results.final_win_rates(runs)
    assert sorted(final["seed"]) == [0, 1] and final["final"].mean() == 0.6


def test_mean_interval_by_hand():
    low, high = results.mean_interval([0.2, 0.4, float("nan"), 0.6])  # the NaN is dropped: sd 0.2, n 3
    half = stats.t.ppf(0.975, 2) * 0.2 / 3 ** 0.5
    assert (low, high) == (pytest.approx(0.4 - half), pytest.approx(0.4 + half))
    assert results.mean_interval([0.3]) == (0.3, 0.3) and results.mean_interval([0.5, 0.5]) == (0.5, 0.5)
    half = stats.t.ppf(0.975, 1) * (2 ** 0.5 * 0.1) / 2 ** 0.5  # two seeds already give an interval: sd √2·0.1
    assert results.mean_interval([0.2, 0.4]) == (pytest.approx(0.3 - half), pytest.approx(0.3 + half))
    assert all(math.isnan(v) for v in results.mean_interval([]))


def test_a_comparison_read_the_other_way_round_and_a_tie():
    c = results.Comparison("3m", "X", "Y", 0.6, 0.5, 0.02, 0.18, 0.04, 0.16)
    assert c.flipped() == results.Comparison("3m", "Y", "X", 0.5, 0.6, -0.18, -0.02, -0.16, -0.04)
    assert c.outcome == "X better" and c.flipped().outcome == "Y better"
    tied = results.Comparison("3m", "X", "Y", 0.6, 0.59, -0.08, 0.10, -0.06, 0.08)  # half-width 0.09 < 0.10
    assert tied.outcome == "tied" and tied.equivalent()
    wide = results.Comparison("3m", "X", "Y", 0.6, 0.59, -0.11, 0.13, -0.09, 0.11)  # half-width 0.12: unclear
    assert wide.outcome == "unclear" and not wide.equivalent()
    nothing = results.Comparison("3m", "X", "Y", 0.01, 0.0, -0.01, 0.03, -0.005, 0.025)  # narrow, but both ≈ 0
    assert nothing.outcome == "unclear" and not nothing.equivalent()


def test_compare_needs_two_seeds_of_each_and_two_are_enough(tmp_path):
    final = pd.DataFrame({"map": "3m", "method": ["X", "X", "Y", "Y", "Y"], "seed": [0, 1, 0, 1, 2],
                          "final": [0.5, 0.7, 0.1, 0.2, 0.3]})
    c = results.compare(final, "3m", "X", "Y")
    assert c.difference == pytest.approx(0.4) and c.low < 0.4 < c.high
    assert results.compare(final, "3m", "Y", "X").difference == pytest.approx(-0.4)  # two on the other side
    with pytest.raises(ValueError, match="X has 1 and Y has 3 runs; comparing needs 2 seeds each"):
        results.compare(final.drop(index=1), "3m", "X", "Y")


def test_final_win_rates_and_summary_read_the_last_evaluations_by_hand(tmp_path):
    write_run(tmp_path, "smax:3m", "qmix", 0, [0.0, 0.1, 0.2, 0.4])
    write_run(tmp_path, "smax:3m", "qmix", 1, [0.0, 0.3, 0.9, 1.0])
    final = results.final_win_rates(results.load_runs(tmp_path))
    assert final[["seed", "t_env", "final", "status"]].values.tolist() == [[0, 15011, pytest.approx(0.3), "finished"],
                                                                        [1, 15048, pytest.approx(0.95), "finished"]]
    table = results.summary_table(final).loc[("3m", "QMIX")]
    assert table[["seeds", "steps"]].tolist() == [2, 15011]
    assert table[["mean", "min", "max"]].tolist() == [pytest.approx(0.625), pytest.approx(0.3), pytest.approx(0.95)]
    final.loc[1, "final"] = float("nan")  # a run whose last evaluations hold a NaN: counted apart, not hidden
    assert results.summary_table(final).loc[("3m", "QMIX"), ["seeds", "no final (NaN)"]].tolist() == [1, 1]


def test_the_rules_at_their_edges():
    """Written as the docstrings say: "inside ±margin" and half-width "< TIE_WIDTH" are strict; "learned" is ≥ 0.05."""
    def comparison(mean_x, low, high, low90, high90):
        return results.Comparison("3m", "X", "Y", mean_x, 0.0, low, high, low90, high90)
    assert comparison(0.05, -0.05, 0.05, -0.04, 0.04).equivalent()  # learned at exactly LEARNED
    assert not comparison(0.04, -0.05, 0.05, -0.04, 0.04).equivalent()
    assert not comparison(0.5, -0.15, 0.05, -0.1, 0.04).equivalent()  # the 90% interval touches −margin
    assert not comparison(0.5, -0.05, 0.15, -0.04, 0.1).equivalent()  # … or +margin
    assert comparison(0.5, -0.15, 0.15, -0.0999, 0.0999).equivalent()
    assert comparison(0.05, -0.05, 0.05, -0.04, 0.04).outcome == "tied"
    assert comparison(0.04, -0.05, 0.05, -0.04, 0.04).outcome == "unclear"
    assert comparison(0.5, -0.1, 0.1, -0.08, 0.08).outcome == "unclear"  # half-width exactly 0.10 (0.2 / 2)
    assert comparison(0.5, -0.0999, 0.0999, -0.08, 0.08).outcome == "tied"


def test_an_interval_whose_values_have_a_standard_deviation_of_one():
    half = stats.t.ppf(0.975, 2) * 1.0 / 3 ** 0.5  # [0, 1, 2]: sd exactly 1, which is no reason for a point
    assert results.mean_interval([0.0, 1.0, 2.0]) == (pytest.approx(1 - half), pytest.approx(1 + half))


def test_a_manifest_needs_a_test_interval_of_at_least_one(tmp_path):
    write_run(tmp_path, "smax:3m", "qmix", 0, [0.0, 0.5], interval=1)
    assert results.load_runs(tmp_path)["t_eval"].tolist() == [0, 12]  # steps 0 and 1·1 + 11
    manifest = tmp_path / "smax-3m" / "qmix" / "seed0" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"test_interval": 1', '"test_interval": 0'))
    with pytest.raises(UserError, match="lacks a valid run_config test_interval"):
        results.load_runs(tmp_path)


def test_text_in_either_win_rate_column_skips_the_row_and_every_nan_row_is_counted(tmp_path):
    write_run(tmp_path, "smax:3m", "qmix", 0, [0.0, 0.5, 0.6, 0.7])
    progress = tmp_path / "smax-3m" / "qmix" / "seed0" / "progress.csv"
    lines = progress.read_text().splitlines()  # t_env, greedy, stochastic
    lines[2] = lines[2].split(",")[0] + ",oops,0.25"  # text in the greedy column only
    lines[3] = lines[3].split(",")[0] + ",,0.3"  # no greedy win rate (NaN)
    lines[4] = lines[4].split(",")[0] + ",0.7,"  # no stochastic one
    progress.write_text("\n".join(lines) + "\n")
    with pytest.warns(results.DataWarning) as caught:
        runs = results.load_runs(tmp_path)
    assert [str(w.message).split(": ", 1)[1][:40] for w in caught] == ["1 of 4 rows are malformed (a step that i",
                                                                      "2 evaluations have no win rate (NaN); a "]
    assert runs["t_env"].tolist() == [0, 10011, 15011]


def test_the_summary_puts_the_runs_without_a_final_beside_the_seed_count():
    final = pd.DataFrame({"map": "3m", "method": "QMIX", "seed": [0, 1], "t_env": 100, "final": [0.5, float("nan")]})
    assert list(results.summary_table(final).columns) == ["seeds", "no final (NaN)", "mean", "min", "max", "steps"]
