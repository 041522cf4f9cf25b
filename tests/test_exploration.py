"""The exploration study's tables and verdicts, on a hand-made study folder whose answers are known."""
import json

import pandas as pd

from nqmix_core import results

from nqmix_core.teaching import exploration


def write_run(root, algo, seed, greedy, entropy, stochastic=None):
    folder = root / "smax-2s3z" / algo / f"seed{seed}"
    folder.mkdir(parents=True)
    steps = [5000 * k for k in range(len(greedy))]
    pd.DataFrame({"t_env": steps, "test_greedy_win_rate": greedy,
                  "test_stochastic_win_rate": stochastic or greedy,
                  exploration.ENTROPY: entropy}).to_csv(folder / "progress.csv", index=False)
    config = {"env": "smax:2s3z", "algo": algo, "seed": seed, "t_max": steps[-1], "test_interval": 5000}
    (folder / "manifest.json").write_text(json.dumps({"run_config": config, "status": "finished", "t_env": steps[-1],
                                                      "wall_seconds_all_segments": 10.0}))


def make_study(root):
    for seed in range(3):
        write_run(root, "nqmix", seed, [0, 0, 0, 0, 0, 0], [2.0, 1.0, 0.3, 0.2, 0.1, 0.1 + seed / 100])
        write_run(root, "nqmix-eps", seed, [0, 0, 0.25, 0.5, 0.5, 0.5 + seed / 10], [2.0, 1.5, 1.2, 1.0, 1.0, 0.9])
        write_run(root, "nqmix-ent", seed, [0, 0, 0, 0, 0, 0.125 * (seed == 0)], [2.0, 1.0, 0.5, 0.4, 0.2, 0.05])


def test_run_table_by_hand(tmp_path):
    make_study(tmp_path)
    per_run = exploration.run_table(results.load_runs(tmp_path), tmp_path, steps=(5000, 25000))
    eps0 = per_run[(per_run["method"] == "NQMIX+ε") & (per_run["seed"] == 0)].iloc[0]
    assert eps0["first_win_greedy"] == 10000 and eps0["best_greedy"] == 0.5
    assert eps0["final_greedy"] == (0.25 + 0.5 + 0.5 + 0.5) / 4
    assert eps0["entropy_5k"] == 1.5 and eps0["entropy_25k"] == 0.9 and eps0["steps_per_s"] == 2500
    assert per_run[per_run["method"] == "NQMIX"]["first_win_greedy"].isna().all()
    table = exploration.method_table(per_run).set_index("method")
    assert table.loc["NQMIX", "first_win_greedy"] == "— (never: 3)"
    assert table.loc["NQMIX+H", "first_win_greedy"] == "25k (never: 2)"


def test_verdicts_follow_the_stated_rules(tmp_path):
    make_study(tmp_path)
    runs = results.load_runs(tmp_path)
    per_run = exploration.run_table(runs, tmp_path, steps=(5000, 25000))
    answers = exploration.verdicts(runs, per_run).set_index("question")["answer"].to_dict()
    assert answers["NQMIX collapses (25k entropy < 0.5 on every seed)"] == "yes"
    assert answers["NQMIX+ε keeps exploring (entropy above NQMIX's on every seed)"] == "yes"
    assert answers["NQMIX+ε fixes NQMIX (greedy final win rate)"] == "yes"
    assert answers["NQMIX+H keeps exploring (entropy above NQMIX's on every seed)"] == "no"  # 0.05 < 0.1
    assert answers["NQMIX+H fixes NQMIX (greedy final win rate)"] == "no"
    assert answers["NQMIX learns (mean greedy final ≥ 0.05)"] == "no"
    assert answers["NQMIX+ε learns (mean greedy final ≥ 0.05)"] == "yes"
