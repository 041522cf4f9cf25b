"""The mechanism study's decision rules (nqmix_core/mechanism.py) on tables whose verdict is known."""
from __future__ import annotations

import pandas as pd

from nqmix_core import mechanism


def table(variant_finals: list[float], learns_3m: float = 0.7, nqmix=(0.05, 0.10, 0.15), variant="nqmix-mono"):
    rows = [{"map": "2s3z", "algo": "nqmix", "method": "NQMIX", "seed": s, "reward_scale": 10.0, "final": f}
            for s, f in enumerate(nqmix)]
    rows += [{"map": "2s3z", "algo": variant, "method": mechanism.results.LABELS[variant], "seed": s,
              "reward_scale": 10.0, "final": f} for s, f in enumerate(variant_finals)]
    rows.append({"map": "3m", "algo": variant, "method": mechanism.results.LABELS[variant], "seed": 0,
                 "reward_scale": 10.0, "final": learns_3m})
    return pd.DataFrame(rows)


def verdicts(t: pd.DataFrame) -> dict:
    d = mechanism.decisions(t, 10.0)
    return dict(zip(d["variant"], zip(d["verdict"], d["2s3z"])))


def test_a_variant_clearly_above_nqmix_on_three_seeds_supports_its_explanation():
    got = verdicts(table([0.60, 0.65, 0.70]))
    assert got["NQMIX+mono"] == ("supported", "beats NQMIX")
    assert got["NQMIX+sign-init"] == ("supported", "not run")  # same explanation (E2), its other variant
    assert got["NQMIX+mixer-actor"] == ("not run", "not run")


def test_not_better_inconclusive_pending_and_the_known_answer():
    same = table([0.10, 0.11, 0.12], nqmix=(0.10, 0.11, 0.12))  # equal and tight: cannot be better by 0.10
    assert verdicts(same)["NQMIX+mono"] == ("not supported", "not better")
    assert verdicts(table([0.0, 0.5, 0.2]))["NQMIX+mono"][1] == "inconclusive"
    assert verdicts(table([0.60, 0.65]))["NQMIX+mono"] == ("pending", "pending (2 of 3 seeds)")
    fails_3m = verdicts(table([0.60, 0.65, 0.70], learns_3m=0.1))["NQMIX+mono"]
    assert fails_3m == ("inconclusive", "beats NQMIX (but fails 3m)")  # not read as support


def test_early_agreement_reads_the_column_or_the_bonferroni_bound():
    measured = pd.DataFrame({"t_eval": [50_000], mechanism.AGREEMENT: [0.8]})
    assert mechanism.early_agreement(measured) == (0.8, False)
    per_agent = pd.DataFrame({"t_eval": [50_000], "train_diag_sign_negative_agent0": [0.05],
                              "train_diag_sign_negative_agent1": [0.10], "train_diag_sign_negative_agent2": [None]})
    value, bound = mechanism.early_agreement(per_agent)  # agent 2's column belongs to another map's runs
    assert bound and abs(value - 0.85) < 1e-12  # all positive at least 1 − (0.05 + 0.10)


def test_the_follow_up_reads_five_seeds_only_for_a_qualifying_variant():
    # inconclusive at 3 seeds with a lead of 0.33 (>= 0.2): qualifies; pending until both have 5 seeds
    t = table([0.30, 0.40, 0.80], nqmix=(0.0, 0.10, 0.45))
    assert verdicts(t)["NQMIX+mono"][1] == "inconclusive"
    assert mechanism.follow_up(t, 10.0)["5 seeds"].tolist() == ["pending (NQMIX 3, NQMIX+mono 3 of 5 seeds)"]
    more = pd.DataFrame([{"map": "2s3z", "algo": a, "method": mechanism.results.LABELS[a], "seed": s,
                          "reward_scale": 10.0, "final": f}
                         for a, finals in (("nqmix", (0.05, 0.0)), ("nqmix-mono", (0.50, 0.60)))
                         for s, f in zip((3, 4), finals)])
    five = mechanism.follow_up(pd.concat([t, more]), 10.0)
    assert five["5 seeds"].tolist() == ["beats NQMIX (second look)"]  # 0.52 vs 0.12 on five seeds each
    # a small lead does not qualify, nor does a decided verdict
    assert mechanism.follow_up(table([0.0, 0.5, 0.2]), 10.0).empty  # lead 0.13
    assert mechanism.follow_up(table([0.60, 0.65, 0.70]), 10.0).empty  # already "beats NQMIX"


def test_the_batch_32_variant_is_the_papers_configuration_under_its_own_name():
    from nqmix_core.registry import PRESETS
    assert PRESETS["nqmix-b32"] == PRESETS["nqmix"] and PRESETS["nqmix"].batch_size == 32
    got = verdicts(table([0.60, 0.65, 0.70], variant="nqmix-b32"))
    assert got["NQMIX (batch 32)"] == ("supported", "beats NQMIX")  # E5 is read by the same rules


def test_the_batch_32_and_confirmation_folders_join_the_study_once_they_hold_runs(tmp_path):
    assert mechanism.study_roots(tmp_path) == [tmp_path]
    run = tmp_path / mechanism.CONFIRM / "smax-2s3z" / "nqmix-mono" / "seed5"
    run.mkdir(parents=True)
    assert mechanism.study_roots(tmp_path) == [tmp_path]  # a folder with no progress yet is not read
    (run / "progress.csv").write_text("t_env\n")
    assert mechanism.study_roots(tmp_path) == [tmp_path, tmp_path / mechanism.CONFIRM]
    run = tmp_path / mechanism.BATCH32 / "smax-3m" / "nqmix-b32" / "seed0"
    run.mkdir(parents=True)
    (run / "progress.csv").write_text("t_env\n")
    assert mechanism.study_roots(tmp_path) == [tmp_path, tmp_path / mechanism.BATCH32, tmp_path / mechanism.CONFIRM]


def test_the_confirmation_reads_fresh_seeds_5_to_9_only():
    t = table([0.30, 0.40, 0.80], nqmix=(0.0, 0.10, 0.45))
    more = pd.DataFrame([{"map": "2s3z", "algo": a, "method": mechanism.results.LABELS[a], "seed": s,
                          "reward_scale": 10.0, "final": f}
                         for a, finals in (("nqmix", (0.05, 0.0)), ("nqmix-mono", (0.50, 0.60)))
                         for s, f in zip((3, 4), finals)])
    five = pd.concat([t, more])
    assert mechanism.confirmation(five, 10.0)["seeds 5-9"].tolist() == ["pending (none of 5 seeds)"]

    def fresh(mono, paper):
        return pd.concat([five, pd.DataFrame(
            [{"map": "2s3z", "algo": a, "method": mechanism.results.LABELS[a], "seed": s, "reward_scale": 10.0,
              "final": f} for a, finals in (("nqmix", paper), ("nqmix-mono", mono))
             for s, f in zip(mechanism.CONFIRM_SEEDS, finals)])])
    assert mechanism.confirmation(fresh((0.6, 0.7, 0.5, 0.6, 0.65), (0.1, 0.2, 0.0, 0.15, 0.1)),
                                  10.0)["seeds 5-9"].tolist() == ["confirmed"]
    # fresh seeds where the variant is no better: its interval's top end is below the margin
    assert mechanism.confirmation(fresh((0.1, 0.2, 0.0, 0.15, 0.1), (0.1, 0.2, 0.05, 0.15, 0.1)),
                                  10.0)["seeds 5-9"].tolist() == ["not confirmed"]
    partial = fresh((0.6, 0.7), (0.1, 0.2))
    assert mechanism.confirmation(partial, 10.0)["seeds 5-9"].tolist() == ["pending (NQMIX 2, NQMIX+mono 2 of 5 seeds)"]
    assert mechanism.confirmation(t, 10.0).empty  # no follow-up has beaten NQMIX yet


def long_grid(finals: dict, reach: dict | None = None) -> pd.DataFrame:
    """load_runs-shaped rows: each (method, map) -> one win rate per seed, held from 100k to the run's reach."""
    rows, algo = [], {label: name for name, label in mechanism.results.LABELS.items()}
    for (method, map_name), per_seed in finals.items():
        for seed, rate in enumerate(per_seed):
            last = (reach or {}).get((method, map_name, seed), 1_000_000)
            rows += [{"map": map_name, "algo": algo[method], "method": method, "seed": seed, "t_env": t + 7, "t_eval": t,
                      "test_greedy_win_rate": rate, "status": "finished", "partial": last < 1_000_000}
                     for t in range(100_000, last + 1, 100_000)]
    return pd.DataFrame(rows)


def test_the_1m_grid_reads_the_variant_against_nqmix_and_qmix_at_both_budgets():
    five = {"NQMIX": (0.1, 0.2, 0.0, 0.15, 0.1), "QMIX": (0.9, 0.8, 0.85, 0.95, 0.9),
            "NQMIX+mono": (0.6, 0.7, 0.5, 0.6, 0.65)}
    runs = long_grid({(m, map_name): v for m, v in five.items() for map_name in mechanism.LONG_MAPS})
    got = mechanism.long_reading(runs)
    assert got[["map", "at"]].values.tolist() == [["2s3z", "300k"], ["3s5z", "300k"], ["2s3z", "1M"], ["3s5z", "1M"]]
    assert set(got["against NQMIX"]) == {"beats NQMIX"} and set(got["against QMIX"]) == {"below QMIX"}
    level = dict(five, QMIX=(0.5, 0.8, 0.4, 0.7, 0.6))  # the same mean as the variant's, wider
    got = mechanism.long_reading(long_grid({(m, "2s3z"): v for m, v in level.items()}))
    assert got["against QMIX"].tolist()[::2] == ["inconclusive", "inconclusive"]
    assert got["against NQMIX"].tolist()[1] == "pending (NQMIX+mono 0, NQMIX 0, QMIX 0 of 5 seeds)"  # 3s5z
    two = long_grid({(m, "2s3z"): v for m, v in dict(five, **{"NQMIX+4-steps": five["NQMIX"]}).items()})
    got = mechanism.long_reading(two)  # each variant in the folder is read, in name order
    assert got["variant"].tolist() == ["NQMIX+mono"] * 4 + ["NQMIX+4-steps"] * 4
    assert got[got["map"] == "2s3z"]["against NQMIX"].tolist() == ["beats NQMIX"] * 2 + ["inconclusive"] * 2


def test_a_run_still_short_of_1m_counts_at_300k_and_leaves_1m_pending():
    five = {"NQMIX": (0.1, 0.2, 0.0, 0.15, 0.1), "QMIX": (0.9, 0.8, 0.85, 0.95, 0.9),
            "NQMIX+mono": (0.6, 0.7, 0.5, 0.6, 0.65)}
    runs = long_grid({(m, "3s5z"): v for m, v in five.items()}, reach={("NQMIX+mono", "3s5z", 4): 400_000})
    got = mechanism.long_reading(runs).set_index(["map", "at"])
    assert got.loc[("3s5z", "300k"), "against NQMIX"] == "beats NQMIX"
    assert got.loc[("3s5z", "1M"), "against QMIX"] == "pending (NQMIX+mono 4 of 5 seeds)"


def test_the_1m_folder_is_not_read_before_a_run_is_in(tmp_path):
    assert mechanism.long_runs(tmp_path, tmp_path / "long_1m") is None
    (tmp_path / mechanism.LONG / "smax-2s3z" / "nqmix-mono" / "seed0").mkdir(parents=True)
    assert mechanism.long_runs(tmp_path, tmp_path / "long_1m") is None


def test_the_bonferroni_bound_takes_whichever_sign_the_agents_mostly_share():
    rows = {"t_eval": [50_000], "train_diag_sign_negative_agent0": [0.9], "train_diag_sign_negative_agent1": [0.8]}
    value, bound = mechanism.early_agreement(pd.DataFrame(rows))
    assert bound and abs(value - 0.7) < 1e-12  # all negative at least 1 − (0.1 + 0.2); all positive: 1 − 1.7 < 0
    rows = {"t_eval": [50_000], **{f"train_diag_sign_negative_agent{a}": [0.6] for a in range(3)}}
    assert mechanism.early_agreement(pd.DataFrame(rows)) == (0.0, True)  # neither bound is positive


def test_run_table_by_hand(tmp_path):
    import json

    from tests.test_claims import write_run
    folder = write_run(tmp_path, "smax:2s3z", "nqmix-mono", 1, 300, {
        "t_env": [0, 100, 200, 300], "test_greedy_win_rate": [0.0, 0.25, 0.5, 1.0],
        "test_stochastic_win_rate": [0.0] * 4})
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["run_config"]["reward_scale"] = 10.0
    (folder / "manifest.json").write_text(json.dumps(manifest))
    got = mechanism.run_table(mechanism.load_family([tmp_path])).iloc[0].to_dict()
    assert {k: got[k] for k in ("map", "algo", "method", "seed", "reward_scale", "t_env", "final")} == {
        "map": "2s3z", "algo": "nqmix-mono", "method": "NQMIX+mono", "seed": 1, "reward_scale": 10.0, "t_env": 300,
        "final": 0.75}  # the mean of the last two evaluations


def test_the_rules_read_an_interval_touching_their_edges_as_inconclusive():
    from nqmix_core.results import Comparison

    def c(low, high):
        return Comparison("2s3z", "X", "Y", 0.5, 0.5, low, high)
    assert mechanism._reading(c(0.0, mechanism.MARGIN), "beats", "not better") == "inconclusive"
    assert mechanism._reading(c(0.01, 0.5), "beats", "not better") == "beats"
    assert mechanism._reading(c(-0.5, 0.09), "beats", "not better") == "not better"
    assert mechanism.sided(c(0.0, 0.5), "above", "below") == mechanism.sided(c(-0.5, 0.0), "above", "below") \
        == "inconclusive"
    assert mechanism.sided(c(-0.5, -0.01), "above", "below") == "below"


def test_a_3m_final_exactly_at_the_bar_learns_and_two_seeds_show_their_interval_so_far():
    t = table([0.60, 0.65], learns_3m=0.25)
    t = pd.concat([t, t[t["map"] == "3m"].assign(seed=1, final=0.75)])  # 3m seeds 0.25 and 0.75: mean 0.5
    row = mechanism.variant_verdict(t, "nqmix-mono", 10.0)
    assert (row["learns 3m"], row["3m final"]) == ("yes", "0.50")
    assert row["2s3z"] == "pending (2 of 3 seeds)" and row["evidence"].endswith("(so far)")
    one_nqmix = table([0.60, 0.65, 0.70], nqmix=(0.1,))  # the baseline itself is short of seeds
    assert mechanism.variant_verdict(one_nqmix, "nqmix-mono", 10.0)["2s3z"] == "pending (3 of 3 seeds; NQMIX 1 of 3)"
    two_nqmix = mechanism.variant_verdict(table([0.60, 0.65, 0.70], nqmix=(0.1, 0.2)), "nqmix-mono", 10.0)
    assert two_nqmix["2s3z"] == "pending (3 of 3 seeds; NQMIX 2 of 3)" and two_nqmix["evidence"].endswith("(so far)")
    low = table([0.60, 0.65, 0.70], learns_3m=0.3)
    low = pd.concat([low, low[low["map"] == "3m"].assign(seed=1)])  # 3m seeds 0.3 and 0.3: mean 0.3, not their sum
    assert mechanism.variant_verdict(low, "nqmix-mono", 10.0)["learns 3m"] == "no"


def test_a_lead_exactly_at_the_follow_up_bar_qualifies(monkeypatch):
    monkeypatch.setattr(mechanism, "FOLLOW_UP_LEAD", 0.25)  # a bar the lead below meets exactly in binary
    t = table([0.0, 0.75, 0.75], nqmix=(0.0, 0.375, 0.375))  # lead 0.5 − 0.25
    assert verdicts(t)["NQMIX+mono"][1] == "inconclusive"
    assert mechanism.follow_up(t, 10.0)["lead at 3 seeds"].tolist() == [0.25]


def test_the_follow_up_reports_the_lead_to_two_decimals_and_the_1m_grid_names_a_missing_method():
    t = table([0.30, 0.40, 0.80], nqmix=(0.0, 0.10, 0.45))  # lead 0.5 − 0.18333
    assert mechanism.follow_up(t, 10.0)["lead at 3 seeds"].tolist() == [0.32]
    runs = long_grid({("NQMIX+mono", "2s3z"): [0.5] * 5, ("NQMIX", "2s3z"): [0.2] * 5})  # no QMIX run yet
    read = mechanism.long_reading(runs, maps=("2s3z",))
    assert set(read["against QMIX"]) == {"pending (QMIX 0 of 5 seeds)"}
