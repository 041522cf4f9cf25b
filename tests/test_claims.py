"""The claims table C1–C8: each rule on data whose verdict is known, and the README it writes."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from scipy import stats

from nqmix_core import claims, claims_rules, report, results
from nqmix_core.errors import UserError
from tests.helpers import reference_folder


def matrix_folder(tmp_path, free_rmse, monotonic_rmse=6.0, found=(1, 0, 0)):
    rows = []
    for seed, success in enumerate(found):
        rows += [{"method": "VDN", "seed": seed, "q_tot_rmse": monotonic_rmse + 1, "success": 0},
                 {"method": "QMIX", "seed": seed, "q_tot_rmse": monotonic_rmse, "success": 0},
                 {"method": "NQMIX, uniform data", "seed": seed, "q_tot_rmse": free_rmse[seed], "success": 0},
                 {"method": "NQMIX", "seed": seed, "q_tot_rmse": 7.0, "success": success}]
    tmp_path.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(tmp_path / "matrix_runs.csv", index=False)
    return tmp_path


@pytest.mark.parametrize("free, monotonic, verdict", [
    ([0.1, 0.2, 0.3], 6.0, "holds"),
    ([0.1, 0.2, 3.0], 6.0, "does not hold"),  # one seed's NQMIX critic misses the payoff
    ([0.1, 0.2, 0.3], 0.5, "does not hold"),  # a monotonic mixer that fits would refute it
])
def test_c1_rule(tmp_path, free, monotonic, verdict):
    row = claims.matrix_claim(matrix_folder(tmp_path / "m", free, monotonic))
    assert row["verdict"] == verdict
    assert "1/3 seeds" in row["evidence"]  # "finds the optimum" is reported beside the verdict


def test_c1_without_data_is_not_measured(tmp_path):
    assert claims.matrix_claim(tmp_path / "nothing")["verdict"] == "not measured"


def write_run(root, env, algo, seed, t_max, columns):
    folder = root / env.replace(":", "-") / algo / f"seed{seed}"
    folder.mkdir(parents=True)
    frame = pd.DataFrame(columns)
    frame.to_csv(folder / "progress.csv", index=False)
    manifest = {"run_config": {"env": env, "algo": algo, "seed": seed, "t_max": t_max, "test_interval": 100},
                "status": "finished", "wall_seconds": 1800.0}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("nqmix_gap, verdict", [(0.5, "holds"), (3.0, "does not hold"), (None, "inconclusive")])
def test_c2_rule_reads_the_second_half(tmp_path, nqmix_gap, verdict):
    from nqmix_core import results

    for seed in range(3):
        for algo, late in (("nqmix", nqmix_gap), ("qmix", 2.0)):
            late = late if late is not None else [0.0, 4.0, 2.0][seed]  # too noisy to decide
            # the first half's gap (100) must not count: only rows with t_env >= t_max / 2 do
            gaps = [100.0, 100.0, late + 0.01 * seed, late - 0.01 * seed]
            write_run(tmp_path, "smax:3m", algo, seed, 300,
                      {"t_env": [0, 100, 200, 300], "test_greedy_win_rate": [0] * 4, "test_stochastic_win_rate": [0] * 4,
                       "train_diag_q_tot_minus_return": gaps})
    row = claims.overestimation_claim(results.load_runs(tmp_path), "x", maps=("3m",))
    assert row["verdict"] == verdict
    if verdict != "inconclusive":
        assert f"3m: NQMIX {nqmix_gap:.2f} vs QMIX 2.00" in row["evidence"]


def test_c6_counts_are_the_mixers_and_the_rule_reads_the_ratio(tmp_path):
    for env, (n, state) in {"smax:2s3z": (5, 120), "smax:3s5z": (8, 192)}.items():
        folder = write_run(tmp_path, env, "qmix", 0, 10, {"t_env": [0]})
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, "env_info": {"n_agents": n, "state_dim": state}}))
    row = claims.parameter_claim(tmp_path)
    # by hand: the NQMIX mixer is Linear(N + S, H) + ReLU + Linear(H, 1), H = 32 (N + 4) − N (App. B.1)
    hidden = 32 * (5 + 4) - 5
    assert f"NQMIX {(5 + 120) * hidden + hidden + hidden + 1:,}" in row["evidence"]
    # QMIX paper's one-layer hypernetworks, by hand: W_1 S -> N·32, b_1 and W_final S -> 32, V: S -> 32 -> 1
    one_layer = (120 * 5 * 32 + 5 * 32) + 2 * (120 * 32 + 32) + (120 * 32 + 32) + (32 + 1)
    assert f"one-layer hypernetworks {one_layer:,}" in row["evidence"]
    assert row["verdict"] == "holds"  # judged on one layer: ratios 1.16 and 1.12, inside 1.25
    assert "1.01" in row["evidence"] and "1.36" in row["evidence"]  # pymarl's two-layer ratios, shown beside


def test_c7_rule(tmp_path):
    for seed in range(4):
        for algo, start, end, win in (("nqmix-cont", -1.5, 0.9, 0.9), ("iddpg", -1.5, -0.2, 0.0),
                                      ("qmix-cont", -1.5, 0.8, 0.8)):
            win = win + 0.01 * seed
            write_run(tmp_path, "continuous:two-peak", algo, seed, 200,
                      {"t_env": [0, 100, 200], "test_greedy_return": [start, end, end + 0.01 * (seed - 1.5)],
                       "test_greedy_win_rate": [0.0, win, win], "test_stochastic_win_rate": [0.0, win, win]})
    paper, kit = claims.continuous_claims(tmp_path)
    assert (paper["claim"], paper["verdict"], kit["claim"], kit["verdict"]) == ("C7", "holds", "C7+", "holds")
    assert "-1.50 before → 0.90 after" in paper["evidence"].replace("−", "-")
    assert "vs IDDPG" in kit["evidence"] or "IDDPG" in kit["evidence"]
    assert kit["leans"].startswith("high-peak win rate: NQMIX-cont by") and "(vs QMIX-cont)" not in kit["leans"]


def test_c8_is_exact_on_policy_and_biased_off_policy():
    from nqmix_core.teaching.theory.off_policy import off_policy_bias, off_policy_claim
    bias = off_policy_bias(range(3))
    assert (bias["on-policy error"] < 1e-12).all() and (bias["off-policy error"] > 0.01).all()
    same = off_policy_bias(range(3), lam=0.0)  # b = π: "off-policy" is on-policy, no bias left
    assert (same["off-policy error"] < 1e-12).all()
    row = off_policy_claim()  # the paper's claim: exact with states from b; it is exact only for b = π
    assert row["verdict"] == "does not hold" and "behaviour policy b" in row["statement"]


def test_readme_block_is_replaced_between_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Kit\n\nbefore\n{report.README_BEGIN}\nold table\n{report.README_END}\nafter\n")
    report.write_readme(readme, f"{report.README_BEGIN}\nnew table\n{report.README_END}")
    assert readme.read_text() == f"# Kit\n\nbefore\n{report.README_BEGIN}\nnew table\n{report.README_END}\nafter\n"
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    with pytest.raises(UserError, match="markers"):
        report.write_readme(plain, "x")
    assert plain.read_text() == "no markers\n"


# --- the equivalence test and the reference row (issue 23) ---------------------------------------------------

def comparison(low, high, low90, high90, mean_x=0.5, mean_y=0.5):
    return results.Comparison("3m", "X", "Y", mean_x, mean_y, low, high, low90, high90)


@pytest.mark.parametrize("c, at_least, greater", [
    (comparison(0.02, 0.30, 0.05, 0.27), "holds", "holds"),                 # X better
    (comparison(-0.30, -0.02, -0.27, -0.05), "does not hold", "does not hold"),  # Y better
    (comparison(-0.06, 0.05, -0.05, 0.04), "holds", "does not hold"),        # equivalent: 90% inside ±0.10
    (comparison(-0.14, 0.01, -0.125, -0.005), "inconclusive", "inconclusive"),  # issue 23's case: not equivalent
    (comparison(-0.40, 0.40, -0.33, 0.33), "inconclusive", "inconclusive"),  # wide
])
def test_ordering_rules_use_two_one_sided_tests(c, at_least, greater):
    assert claims.at_least(c) == at_least and claims.greater(c) == greater


def test_compare_gives_the_90_percent_interval_for_the_equivalence_test():
    final = pd.DataFrame({"map": "3m", "method": ["X"] * 3 + ["Y"] * 3, "seed": [0, 1, 2] * 2,
                          "final": [0.50, 0.52, 0.54, 0.49, 0.51, 0.53]})
    c = results.compare(final, "3m", "X", "Y")
    assert c.low < c.low90 < c.difference < c.high90 < c.high
    se = (2 * 0.02 ** 2 / 3) ** 0.5  # both groups have sd 0.02; Welch's dof is 4
    assert c.high90 - c.difference == pytest.approx(stats.t.ppf(0.95, 4) * se)
    assert c.equivalent() and claims.at_least(c) == "holds"


def test_two_methods_that_never_win_are_not_ordered():
    """Every seed of both at 0%, as on 3s5z early on: the interval is the single point 0, which is not above 0,
    and two methods that learned nothing are not "equivalent" either, so no ordering holds or fails."""
    final = pd.DataFrame({"map": "3s5z", "method": ["X"] * 3 + ["Y"] * 3, "seed": [0, 1, 2] * 2, "final": 0.0})
    c = results.compare(final, "3s5z", "X", "Y")
    assert (c.low, c.high) == (0.0, 0.0) and c.outcome == "unclear"
    assert claims.at_least(c) == claims.greater(c) == claims.lower(c) == "inconclusive"
    assert claims_rules.leans(c) == "even" and claims_rules.leans(comparison(-1, 1, -1, 1, 0.25, 0.5)) == "Y by 0.25"


def test_reference_row_reads_which_methods_end_above_the_strongest_script(tmp_path):
    reference_folder(tmp_path, "3m",
                     "random,320,0,0.0,0.0,0.01,0.2\nscript-weakest,320,214,0.67,0.62,0.72,1.6\n"
                     "script-first,320,147,0.46,0.41,0.51,1.4\n")
    final = pd.DataFrame({"map": "3m", "method": ["NQMIX"] * 3 + ["QMIX"] * 3, "seed": [0, 1, 2] * 2,
                          "final": [0.90, 0.92, 0.94, 0.30, 0.70, 0.50]})
    row = claims.reference_claim(final, tmp_path, "3m 150k")
    assert row["verdict"] == "above: NQMIX on 3m" and row["budget"] == "3m 150k"
    assert "QMIX 0.50" in row["evidence"] and "level" in row["evidence"] and "script-weakest 0.67" in row["evidence"]


def test_c2_reads_each_run_from_its_midpoint_on_by_hand(tmp_path):
    write_run(tmp_path, "smax:3m", "nqmix", 0, 400, {
        "t_env": [0, 100, 200, 300, 400], "test_greedy_win_rate": [0] * 5, "test_stochastic_win_rate": [0] * 5,
        "train_diag_q_tot_minus_return": [9.0, 9.0, 1.0, 2.0, 6.0]})  # the row at 200 = t_max / 2 counts
    gaps = claims.overestimation(results.load_runs(tmp_path))
    assert gaps.to_dict("records") == [{"map": "3m", "method": "NQMIX", "seed": 0, "final": 3.0}]


@pytest.mark.parametrize("nqmix_gap, leans", [(1.5, "3m: NQMIX lower by 0.50"), (2.5, "3m: QMIX lower by 0.50")])
def test_c2_leans_name_the_method_whose_target_overestimates_less(tmp_path, nqmix_gap, leans):
    for seed in range(3):
        for algo, gap in (("nqmix", nqmix_gap), ("qmix", 2.0)):
            write_run(tmp_path, "smax:3m", algo, seed, 300, {
                "t_env": [0, 300], "test_greedy_win_rate": [0] * 2, "test_stochastic_win_rate": [0] * 2,
                "train_diag_q_tot_minus_return": [gap, gap + 0.01 * seed]})
    assert claims.overestimation_claim(results.load_runs(tmp_path), "x", maps=("3m",))["leans"] == leans


def test_every_verdict_is_at_the_budget_of_the_shortest_complete_run_of_its_map(tmp_path):
    for env, t_max, seed in (("smax:2s3z", 300_000, 0), ("smax:2s3z", 600_000, 1), ("smax:3m", 150_000, 0)):
        write_run(tmp_path, env, "qmix", seed, t_max, {"t_env": [0, t_max], "test_greedy_win_rate": [0, 1],
                                                       "test_stochastic_win_rate": [0, 1]})
    assert claims.budgets(results.load_runs(tmp_path)) == "3m 150k, 2s3z 300k"  # the paper's order of maps


def test_a_method_whose_interval_touches_the_scripts_is_level_with_it(tmp_path):
    reference_folder(tmp_path, "3m", "script-weakest,320,160,0.5,0.25,0.75,1.0\n")
    final = pd.DataFrame({"map": "3m", "method": ["NQMIX"] * 3 + ["QMIX"] * 3, "seed": [0, 1, 2] * 2,
                          "final": [0.75] * 3 + [0.25] * 3})  # intervals [0.75, 0.75] and [0.25, 0.25]
    row = claims.reference_claim(final, tmp_path, "3m 150k")
    assert row["verdict"] == "above: none"
    assert "NQMIX 0.75 [0.75, 0.75] level" in row["evidence"] and "QMIX 0.25 [0.25, 0.25] level" in row["evidence"]


def test_the_first_matrix_folder_decides_c1_and_the_others_are_shown_as_records(tmp_path):
    for seed in range(2):
        for algo in ("nqmix", "qmix", "coma", "nqmix-m"):
            for env in ("smax:3m", "smax:2s3z", "smax:3s5z"):
                write_run(tmp_path / "smac", env, algo, seed, 300, {"t_env": [0, 300], "test_greedy_win_rate": [0, seed],
                                                                     "test_stochastic_win_rate": [0, seed]})
    first = matrix_folder(tmp_path / "first", [0.1, 0.2, 0.3])  # holds
    second = matrix_folder(tmp_path / "second", [0.1, 0.2, 3.0])  # does not hold
    table = claims.claims_table(tmp_path / "smac", [first, second]).set_index("claim")
    assert table.loc["C1", "verdict"] == "holds" and table.loc["C1 (record)", "verdict"] == "does not hold"
    assert table.loc["C1", "data"] == str(first)


def _bias_table(on: list[float], off: list[float], cosine: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"seed": range(len(on)), "on-policy error": on, "on-policy cosine": [1.0] * len(on),
                         "off-policy error": off, "off-policy cosine": cosine})


@pytest.mark.parametrize("off, verdict", [
    ([1e-12, 5e-10], "holds"),  # every MDP exact with states from b
    ([0.02, 0.30], "does not hold"),  # every MDP biased
    ([1e-12, 0.30], "inconclusive"),  # exact on one, biased on another
    ([1e-9, 1e-12], "inconclusive"),  # an error of exactly EXACT is not exact
    ([0.01, 0.30], "inconclusive"),  # nor is exactly BIASED biased
])
def test_c8s_rule_at_its_edges(off, verdict):
    from nqmix_core.teaching.theory.off_policy import off_policy_claim
    row = off_policy_claim(_bias_table([0.0, 0.0], off, [0.9, 0.8]))
    assert row["verdict"] == verdict
    assert row["leans"].startswith("exact off-policy too;" if verdict == "holds" else "exact only on-policy;")


def test_c8s_evidence_names_the_range_of_each_figure():
    from nqmix_core.teaching.theory.off_policy import off_policy_claim
    row = off_policy_claim(_bias_table([1e-15, 2e-15, 0.0], [0.31, 0.12, 0.47], [0.95, 0.62, 0.88]))
    assert row["evidence"] == ("3 random MDPs: relative error on-policy below 1e-09; off-policy 0.12–0.47, "
                               "cosine to ∇J 0.62–0.95")
    assert row["leans"] == "exact only on-policy; off-policy relative error 0.31 (median)"
    assert "above 1e-09" in off_policy_claim(_bias_table([1e-15, 1e-9], [0.3, 0.3], [0.9, 0.9]))["evidence"]


def test_c8s_behaviour_policy_is_the_softmax_of_the_interpolated_logits():
    """b = softmax((1 − λ)θ + λθ_b), rebuilt here from the same draws, at λ = 0.5 and 1."""
    import torch

    from nqmix_core.teaching.theory import tabular as th
    from nqmix_core.teaching.theory.off_policy import off_policy_bias
    mdp = th.random_mdp(seed=2)
    generator = torch.Generator().manual_seed(1002)
    theta, theta_b = (torch.randn(5, 3, generator=generator, dtype=th.DTYPE) for _ in range(2))
    _, q_values = th.value_functions(mdp, th.softmax_policy(theta))
    truth = th.exact_gradient(mdp, theta)
    for lam, logits in ((0.5, 0.5 * theta + 0.5 * theta_b), (1.0, theta_b)):
        eq3 = th.policy_gradient_sum(theta, q_values, th.discounted_visitation(mdp, th.softmax_policy(logits)))
        row = off_policy_bias(range(2, 3), lam=lam).iloc[0]
        assert row["off-policy error"] == pytest.approx(th.relative_error(eq3, truth).item(), rel=1e-9)
