"""``RunConfig.reward_scale``: the learner sees reward × scale; wins, episode ends and logged returns do not change."""
from __future__ import annotations

import json

import pytest
import torch

from nqmix_core import cli, diagnostics
from nqmix_core.config import RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.errors import UserError
from nqmix_core.experiment import train_run

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def one_rollout(out, scale: float, env, algo: str = "qmix") -> dict:
    """Train for one rollout of 8 episodes at ``scale``; the checkpoint (replay, training sums)."""
    config = RunConfig(algo=algo, env="smax:3m", seed=5, t_max=1, test_interval=10**6, test_episodes=8,
                       checkpoint_interval=10**6, device="cpu", tensorboard=False, progress=False,
                       reward_scale=scale)
    algo_settings = algo_config(algo) if algo == "coma" else algo_config(algo, batch_size=8, buffer_size=64)
    train_run(config, out, algo=algo_settings, env=env)
    return torch.load(out / "checkpoint.pt", weights_only=True)


@pytest.mark.parametrize("algo", ["qmix", "nqmix", "coma"])
def test_scale_ten_stores_exactly_ten_times_the_reward_and_the_same_wins(algo, smax_env, tmp_path):
    plain, scaled = one_rollout(tmp_path / "one", 1.0, smax_env, algo), one_rollout(tmp_path / "ten", 10.0, smax_env, algo)
    a, b = plain["buffer"], scaled["buffer"]
    assert a["reward"].abs().sum() > 0  # damage was dealt, so the check compares something
    assert torch.equal(b["reward"], a["reward"] * 10)  # every step of every episode
    for name in ("terminated", "filled", "actions", "lengths"):
        assert torch.equal(a[name], b[name])
    # logged statistics stay in SMAX's units: the same returns and win flags at either scale
    for name in ("return", "win_rate", "episode_length"):
        assert torch.equal(plain["tracker"]["sums"][name], scaled["tracker"]["sums"][name])
    manifest = json.loads((tmp_path / "ten" / "manifest.json").read_text())
    assert manifest["run_config"]["reward_scale"] == 10.0


def test_value_diagnostics_are_logged_in_the_environments_units():
    sums = {"q_tot": (torch.tensor(30.0), torch.tensor(3.0)), "return": (torch.tensor(20.0), torch.tensor(3.0)),
            "q_tot_minus_return": (torch.tensor(10.0), torch.tensor(3.0)),
            "policy_entropy": (torch.tensor(1.5), torch.tensor(3.0))}
    for scale in (10.0, 2.0, 0.5):
        back = diagnostics.in_env_units({k: (s * scale / 10, w) for k, (s, w) in sums.items() if k != "policy_entropy"}
                                        | {"policy_entropy": sums["policy_entropy"]}, scale)
        assert [float(back[k][0]) for k in sums] == [3.0, 2.0, 1.0, 1.5], scale
        assert all(float(back[k][1]) == 3.0 for k in sums)
    assert diagnostics.in_env_units(sums, 1.0) == sums  # the env's own scale: nothing to undo


@pytest.mark.parametrize("value", [0.0, -10.0, float("nan"), float("inf")])
def test_a_scale_that_is_not_a_positive_number_is_refused_in_one_sentence(value):
    with pytest.raises(UserError, match=r"reward_scale=.* must be"):
        RunConfig(reward_scale=value)


@pytest.mark.parametrize("text", ["0", "-1", "ten", "nan"])
def test_the_cli_refuses_a_bad_scale_before_any_work(text, tmp_path, capsys):
    code = cli.main(["train", "--env", "matrix:qtran", "--t-max", "10", "--reward-scale", text,
                     "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_old_manifests_and_checkpoints_read_as_scale_one(tmp_path):
    from nqmix_core import results
    runs = results.load_runs("data/reproduction_cpu")
    assert set(runs["reward_scale"]) == {1.0}


def test_the_default_scale_is_the_backends_and_the_config_holds_the_number():
    from nqmix_core.catalog import ENV_BACKENDS
    assert RunConfig(env="smax:2s3z").reward_scale == ENV_BACKENDS["smax"].reward_scale
    assert RunConfig(env="matrix:qtran").reward_scale == 1.0
    assert RunConfig(env="smax:3m", reward_scale=2.5).reward_scale == 2.5
    from nqmix_core.run_options import settings, train_parser
    config, _ = settings(train_parser().parse_args(["--env", "matrix:two-step"]))
    assert config.reward_scale == 1.0


def test_changed_settings_names_a_scale_other_than_the_backends():
    from nqmix_core.run_table import changed_settings
    from dataclasses import asdict
    old = {"run_config": {"algo": "qmix", "env": "smax:3m"}, "algo_config": asdict(algo_config("qmix"))}
    assert "reward_scale=1.0" in changed_settings(old)  # written before the setting existed: scale 1
    new = {"run_config": {"algo": "qmix", "env": "smax:3m", "reward_scale": RunConfig(env="smax:3m").reward_scale},
           "algo_config": asdict(algo_config("qmix"))}
    assert "reward_scale" not in changed_settings(new)
