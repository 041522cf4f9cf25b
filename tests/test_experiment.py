"""The experiment loop: every algorithm on every backend, the evaluation protocol, resume, NaN stop,
checkpoint files and every error path. All runs go through ``train_run``, which the CLI calls.

One SMAX 3m environment (8 copies) is shared by the module: building one compiles for 10-20 s.
"""
from __future__ import annotations

import json
import math
import subprocess

import pytest
import torch

from nqmix_core import cli, runner, train
from nqmix_core.config import RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.envs.matrix import MatrixGame
from nqmix_core.errors import UserError
from nqmix_core.experiment import train_run
from nqmix_core.runner import evaluate
from nqmix_core.train import TrainingDiverged
from nqmix_core.learners.q_learning import QLearner

ALGOS = ["nqmix", "nqmix-m", "qmix", "vdn", "coma"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tiny(algo: str):
    """The preset with a small replay and mini-batch, so that a few rollouts already train."""
    return algo_config(algo) if algo == "coma" else algo_config(algo, batch_size=8, buffer_size=64)


def quick(algo="qmix", env="matrix:qtran", **overrides) -> RunConfig:
    settings = {"algo": algo, "env": env, "t_max": 200, "test_interval": 100, "test_episodes": 8, "device": "cpu",
                    "checkpoint_interval": 100, "updates_per_episode": 0.25, "tensorboard": False, "progress": False}
    return RunConfig(**{**settings, **overrides})


def networks(out) -> dict:
    return torch.load(out / "checkpoint.pt", weights_only=True)["learner"]["networks"]


def assert_same_networks(a, b):
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


# --- every algorithm on every backend --------------------------------------------------------------

@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm_trains_on_the_matrix_game(algo, tmp_path):
    rows = train_run(quick(algo), tmp_path, algo=tiny(algo))
    assert [r["t_env"] for r in rows] == [0, 104, 200]
    assert rows[-1]["train_updates"] > 0 and math.isfinite(rows[-1]["train_return"])
    assert all(math.isfinite(v) for k, v in rows[-1].items() if k.endswith("loss"))
    assert (tmp_path / "progress.csv").exists() and (tmp_path / "timing.csv").exists()


@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm_trains_on_smax(algo, smax_env, tmp_path):
    config = quick(algo, env="smax:3m", t_max=1, test_interval=10**6, checkpoint_interval=10**6,
                   updates_per_episode=1.0)
    rows = train_run(config, tmp_path, algo=tiny(algo), env=smax_env)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert len(rows) == 1 and state["counters"]["episodes"] == 8
    assert state["counters"]["updates"] == (1 if algo == "coma" else 8)
    assert state["tracker"]["updates"] == state["counters"]["updates"]
    assert all(torch.isfinite(v).all() for v in state["learner"]["networks"].values())


# --- the evaluation protocol -------------------------------------------------------------------------

def test_protocol_defaults_are_the_papers():
    config = RunConfig()
    assert (config.test_interval, config.test_episodes) == (5_000, 32)


def test_evaluation_happens_at_every_boundary_with_both_policies(tmp_path, monkeypatch):
    calls = []
    real_rollout = train.rollout

    def counting_rollout(env, learner, mode, *args, **kwargs):
        calls.append(mode)
        return real_rollout(env, learner, mode, *args, **kwargs)
    monkeypatch.setattr(train, "rollout", counting_rollout)  # training rollouts
    monkeypatch.setattr(runner, "rollout", counting_rollout)  # test rollouts (runner.evaluate)
    rows = train_run(quick(t_max=1000, test_interval=250, test_episodes=12), tmp_path, algo=tiny("qmix"))
    assert [r["t_env"] for r in rows] == [0, 256, 504, 752, 1000]  # 8 one-step episodes per rollout
    per_evaluation = math.ceil(12 / 8)
    assert calls.count("greedy") == calls.count("stochastic") == len(rows) * per_evaluation
    assert calls.count("explore") == 1000 // 8
    assert all(r["test_greedy_episodes"] == r["test_stochastic_episodes"] == 12 for r in rows)


class AlternatingLearner:
    """Plays the winning joint action in the first half of the copies, a losing one in the rest."""

    def initial_hidden(self, n_envs):
        return torch.zeros(n_envs, 2, 1)

    def act(self, obs, last_actions, hidden, mode, t_env, generator=None):
        e = obs.obs.shape[0]
        actions = torch.ones(e, 2, dtype=torch.long)
        actions[: e // 2] = 0  # (A, A) pays 8 = a win; (B, B) pays 0
        return actions, hidden


def test_evaluate_averages_exactly_the_requested_number_of_episodes():
    env = MatrixGame(n_envs=8)
    result = evaluate(env, AlternatingLearner(), "greedy", 12, 0, torch.Generator())
    # Rollout 1: 4 wins, 4 losses; rollout 2 contributes its first 4 episodes, all wins.
    assert result["win_rate"].item() == pytest.approx(8 / 12)
    assert result["return"].item() == pytest.approx(8 * 8 / 12)


# --- resume ------------------------------------------------------------------------------------------

def test_resumed_run_matches_a_straight_run_bit_for_bit(tmp_path):
    def config(t_max):
        return quick("nqmix", t_max=t_max, test_interval=500, checkpoint_interval=400, updates_per_episode=0.125)
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_run(config(2000), straight, algo=tiny("nqmix"))
    train_run(config(1000), split, algo=tiny("nqmix"))
    train_run(config(2000), split, resume=True, algo=tiny("nqmix"))
    assert_same_networks(networks(straight), networks(split))
    assert (straight / "progress.csv").read_text() == (split / "progress.csv").read_text()


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path, monkeypatch):
    config = quick("vdn", t_max=1600, test_interval=350, checkpoint_interval=500)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    train_run(config, straight, algo=tiny("vdn"))
    real_step = train.step

    def killed_at_1100(run):
        if run.counters.t_env >= 1100:
            raise KeyboardInterrupt
        real_step(run)
    monkeypatch.setattr(train, "step", killed_at_1100)
    with pytest.raises(KeyboardInterrupt):
        train_run(config, killed, algo=tiny("vdn"))
    assert torch.load(killed / "checkpoint.pt", weights_only=True)["counters"]["t_env"] == 1000
    assert "\n1056," in (killed / "progress.csv").read_text()  # a row logged after the last checkpoint
    monkeypatch.setattr(train, "step", real_step)
    train_run(config, killed, resume=True, algo=tiny("vdn"))
    assert_same_networks(networks(straight), networks(killed))
    assert (straight / "progress.csv").read_text() == (killed / "progress.csv").read_text()


def test_overlapped_collection_is_deterministic_resumable_and_runs_in_a_second_thread(tmp_path, monkeypatch):
    import threading

    def config(t_max, overlap=True):
        return quick("nqmix", t_max=t_max, test_interval=250, checkpoint_interval=200, updates_per_episode=0.5,
                     overlap_collection=overlap)
    straight, split, sequential = tmp_path / "straight", tmp_path / "split", tmp_path / "sequential"
    threads = set()
    real_collect = train.collect

    def collect(run, learner):
        threads.add(threading.current_thread() is threading.main_thread())
        assert (learner is run.learner) == (run.behaviour is None)  # overlapped: the copy collects
        return real_collect(run, learner)
    monkeypatch.setattr(train, "collect", collect)
    train_run(config(1000), straight, algo=tiny("nqmix"))
    assert threads == {False}
    train_run(config(500), split, algo=tiny("nqmix"))
    train_run(config(1000), split, resume=True, algo=tiny("nqmix"))
    assert_same_networks(networks(straight), networks(split))
    assert (straight / "progress.csv").read_text() == (split / "progress.csv").read_text()
    train_run(config(1000, overlap=False), sequential, algo=tiny("nqmix"))
    assert threads == {False, True}
    assert not torch.equal(networks(straight)["agent.fc_in.weight"], networks(sequential)["agent.fc_in.weight"])


def test_coma_refuses_overlapped_collection(tmp_path):
    with pytest.raises(UserError, match="on-policy"):
        train_run(quick("coma", n_envs=8, overlap_collection=True), tmp_path)


def test_resume_on_smax_restores_the_environments_random_stream(smax_env, tmp_path):
    def config(t_max):
        return quick("qmix", env="smax:3m", t_max=t_max, test_interval=300, checkpoint_interval=10**6)
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_run(config(600), straight, algo=tiny("qmix"), env=smax_env)
    train_run(config(300), split, algo=tiny("qmix"), env=smax_env)
    smax_env.reset(123)  # move the shared env's stream elsewhere: resume must put it back
    train_run(config(600), split, resume=True, algo=tiny("qmix"), env=smax_env)
    assert_same_networks(networks(straight), networks(split))
    assert (straight / "progress.csv").read_text() == (split / "progress.csv").read_text()
    assert smax_env.compile_count() == 3  # restoring the key did not trigger a recompile


# --- checkpoints, manifest, NaN ----------------------------------------------------------------------

def test_checkpoint_loads_with_weights_only_and_the_manifest_says_what_ran(tmp_path):
    train_run(quick("coma", tensorboard=True), tmp_path, command="nqmix train --algo coma")
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["run_config"]["algo"] == "coma" and state["counters"]["t_env"] >= 200
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["command"] == "nqmix train --algo coma" and manifest["status"] == "finished"
    assert manifest["seed"] == 0 and manifest["algo_config"]["td_lambda"] == 0.8
    assert {"torch", "numpy", "jax", "jaxmarl"} <= set(manifest["versions"])
    assert manifest["device"] == "cpu" and manifest["host"]["cpu"] and manifest["wall_seconds"] > 0
    assert "commit" in manifest["git"]
    assert any((tmp_path / "tb").iterdir())
    assert not list(tmp_path.glob("*.tmp"))


def test_the_manifest_names_what_made_the_code_dirty_and_not_the_kits_own_outputs(tmp_path):
    from nqmix_core.experiment_io import _git_commit
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    (tmp_path / "data" / "run").mkdir(parents=True)
    (tmp_path / "data" / "run" / "progress.csv").write_text("t_env\n")  # a run's own output: not a change
    clean = _git_commit(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False and "changed" not in clean
    (tmp_path / "a.py").write_text("x = 2\n")
    (tmp_path / ".venv").symlink_to(tmp_path / "data")  # a linked environment that .gitignore does not cover
    assert _git_commit(tmp_path)["changed"] == [" M a.py", "?? .venv"]


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_step = QLearner.train_step
    calls = {"n": 0}

    def poisoned_step(self, batch, t_env, episodes_seen):
        calls["n"] += 1
        info = real_step(self, batch, t_env, episodes_seen)
        if calls["n"] >= 60:
            with torch.no_grad():
                self.agent.fc_out.weight.fill_(float("nan"))
            info["critic_loss"] = torch.tensor(float("nan"))
        return info
    monkeypatch.setattr(QLearner, "train_step", poisoned_step)
    with pytest.raises(TrainingDiverged, match=r"critic_loss became NaN or infinite near step \d+") as caught:
        train_run(quick(t_max=2000, checkpoint_interval=80), tmp_path, algo=tiny("qmix"))
    assert str(caught.value).count(". ") == 0  # one sentence
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    # 2 updates per 8-step rollout: update 60 falls in the rollout that reaches step 240, a checkpoint
    # boundary, so the loss check must stop it before that checkpoint; the one at 160 stays.
    assert state["counters"]["updates"] == 40 and state["counters"]["t_env"] == 160
    assert all(torch.isfinite(v).all() for v in state["learner"]["networks"].values())
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "diverged"


# --- error paths -------------------------------------------------------------------------------------

def test_resume_without_a_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no checkpoint to resume"):
        train_run(quick(), tmp_path, resume=True)


def test_starting_over_an_existing_run_is_a_user_error(tmp_path):
    train_run(quick(t_max=8), tmp_path, algo=tiny("qmix"))
    with pytest.raises(UserError, match="already holds a run"):
        train_run(quick(t_max=8), tmp_path, algo=tiny("qmix"))


@pytest.mark.parametrize("content", [b"not a checkpoint", b""])
def test_a_corrupt_checkpoint_is_a_user_error(tmp_path, content):
    (tmp_path / "checkpoint.pt").write_bytes(content)
    with pytest.raises(UserError, match="could not be read"):
        train_run(quick(), tmp_path, resume=True)


def test_a_truncated_checkpoint_is_a_user_error(tmp_path):
    train_run(quick(t_max=8), tmp_path, algo=tiny("qmix"))
    data = (tmp_path / "checkpoint.pt").read_bytes()
    (tmp_path / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="could not be read"):
        train_run(quick(t_max=16), tmp_path, resume=True, algo=tiny("qmix"))


def test_a_foreign_file_is_a_user_error(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError, match="not a checkpoint"):
        train_run(quick(), tmp_path, resume=True)


@pytest.mark.parametrize("change", [{"algo": "vdn"}, {"env": "matrix:two-step"}, {"seed": 1}, {"n_envs": 4}])
def test_resuming_with_other_settings_is_a_user_error(tmp_path, change):
    train_run(quick(t_max=8), tmp_path, algo=tiny("qmix"))
    config = quick(t_max=16, **change)
    with pytest.raises(UserError, match="other settings"):
        train_run(config, tmp_path, resume=True, algo=tiny(config.algo))


def test_a_checkpoint_with_other_shapes_is_a_user_error(tmp_path):
    train_run(quick(t_max=8), tmp_path, algo=tiny("qmix"))
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    state["learner"]["networks"]["agent.fc_out.weight"] = torch.zeros(5, 64)
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError, match=r"does not fit this algorithm and environment \(size mismatch for "
                                        r"agent\.fc_out\.weight: .*\); choose another --out\.$"):
        train_run(quick(t_max=16), tmp_path, resume=True, algo=tiny("qmix"))  # torch's line that names it


def test_bad_run_settings_are_user_errors(tmp_path):
    for bad in ({"t_max": 0}, {"n_envs": 0}, {"test_episodes": 0}, {"updates_per_episode": 0}):
        with pytest.raises(UserError, match="Invalid run setting"):
            quick(**bad)
    with pytest.raises(UserError, match="n_envs must equal"):
        train_run(quick("coma", n_envs=4), tmp_path)
    with pytest.raises(UserError, match="copies"):
        train_run(quick(), tmp_path, env=MatrixGame(n_envs=3))


# --- the command line --------------------------------------------------------------------------------

def test_cli_train_runs_and_resumes(tmp_path, capsys):
    args = ["train", "--algo", "vdn", "--env", "matrix:two-step", "--t-max", "48", "--test-interval", "16",
            "--test-episodes", "4", "--device", "cpu", "--out", str(tmp_path), "--no-progress", "--no-tensorboard"]
    assert cli.main(args) == 0
    assert "greedy test win rate" in capsys.readouterr().out
    assert cli.main([*args[:6], "96", *args[7:], "--resume"]) == 0
    rows = (tmp_path / "progress.csv").read_text().splitlines()
    assert rows[-1].startswith("96,")
    assert json.loads((tmp_path / "manifest.json").read_text())["command"].startswith("nqmix train --algo vdn")


def test_cli_train_set_replaces_preset_fields_and_resume_must_repeat_them(tmp_path, capsys):
    args = ["train", "--algo", "nqmix", "--env", "matrix:qtran", "--t-max", "32", "--test-interval", "16",
            "--test-episodes", "4", "--device", "cpu", "--out", str(tmp_path), "--no-progress", "--no-tensorboard",
            "--set", "critic_lr=1e-3", "--set", "tau=0.005", "--set", "batch_size=4"]
    assert cli.main(args) == 0
    recorded = json.loads((tmp_path / "manifest.json").read_text())["algo_config"]
    assert (recorded["critic_lr"], recorded["tau"], recorded["batch_size"]) == (1e-3, 0.005, 4)
    assert recorded["actor_lr"] == algo_config("nqmix").actor_lr  # untouched fields keep the preset
    capsys.readouterr()
    without_lr = args[:-6] + args[-4:]  # tau and batch_size kept, critic_lr back to the preset
    assert "critic_lr=1e-3" not in without_lr and cli.main([*without_lr, "--resume"]) == 2
    assert "critic_lr" in capsys.readouterr().err
    assert cli.main([*args, "--resume", "--t-max", "48"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--set", "learning_rate=1e-3"], "--set 'learning_rate=1e-3': NQMIXConfig has no field 'learning_rate' (did you mean critic_lr or actor_lr?)"),
    (["--set", "batch_size=2.5"], "batch_size takes a whole number"),
    (["--set", "tau_per_time_step=maybe"], "tau_per_time_step takes true or false"),
    (["--set", "tau=0"], "Invalid algorithm setting: tau=0.0 must be in (0, 1]"),
    (["--algo", "qmixx"], "Unknown algorithm 'qmixx' (did you mean qmix?); choose one of nqmix"),
    (["--env", "matrix:nope"], "Unknown environment"),
    (["--t-max", "0"], "Invalid run setting"),
    (["--device", "tpu"], "Unknown device"),
    (["--threads", "0"], "--threads"),
])
def test_cli_train_bad_input_prints_one_sentence_and_exits_2(tmp_path, capsys, args, message):
    code = cli.main(["train", "--env", "matrix:qtran", "--out", str(tmp_path / "run"), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cli_train_resume_of_a_corrupt_checkpoint_exits_2(tmp_path, capsys):
    (tmp_path / "checkpoint.pt").write_bytes(b"junk")
    code = cli.main(["train", "--env", "matrix:qtran", "--out", str(tmp_path), "--resume", "--no-progress"])
    assert code == 2 and "could not be read" in capsys.readouterr().err


@pytest.mark.parametrize("algo", ["nqmix", "coma", "qmix"])
def test_every_log_row_after_training_carries_the_diagnostics(algo, tmp_path):
    rows = train_run(quick(algo), tmp_path, algo=tiny(algo))
    last = rows[-1]
    if algo != "qmix":  # a policy of its own: entropy (at most log |U| = log 3) and not-argmax actions
        assert 0 <= last["train_diag_policy_entropy"] <= math.log(3) + 1e-6
        assert 0 <= last["train_diag_not_argmax"] <= 1
        assert {"train_diag_policy_entropy_agent0", "train_diag_policy_entropy_agent1"} <= set(last)
    if algo != "coma":  # a mixer: Q_tot against the return (every one-step matrix episode is decided)
        assert last["train_diag_q_tot_minus_return"] == pytest.approx(last["train_diag_q_tot"] - last["train_diag_return"])
    assert ("train_diag_sign_negative_agent1" in last) == (algo == "nqmix")
    header = (tmp_path / "progress.csv").read_text().splitlines()[0]
    assert all(key in header for key in last if key.startswith("train_diag_"))
