"""The core runs unchanged on a GPU (skipped where PyTorch sees none)."""
import pytest
import torch

from nqmix_core.teaching.matrix_games import train_matrix_game

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@pytest.mark.parametrize("algo", ["nqmix", "qmix"])
def test_matrix_game_on_cuda_matches_shapes_and_stays_on_device(algo):
    run = train_matrix_game(algo, seed=0, n_updates=20, device="cuda")
    assert run.q_tot.shape == (3, 3) and torch.isfinite(run.q_tot).all()


def test_learner_tensors_live_on_cuda():
    from nqmix_core.registry import make_env, make_learner
    env = make_env("matrix:two-step", 4, "cuda")
    learner = make_learner("nqmix", env.info, "cuda")
    assert all(p.is_cuda for p in learner.parameters())
    from nqmix_core.runner import rollout
    batch, stats = rollout(env, learner, "explore", 0, torch.Generator(device="cuda").manual_seed(0))
    assert batch.obs.is_cuda and stats.returns.is_cuda


@pytest.mark.parametrize("algo", ["nqmix", "nqmix-m", "qmix", "vdn", "coma", "nqmix-cont", "qmix-cont", "iddpg"])
def test_every_algorithm_trains_on_cuda_through_train_run(algo, tmp_path):
    from nqmix_core.config import RunConfig
    from nqmix_core.registry import algo_config
    from nqmix_core.experiment import train_run
    env = "continuous:two-peak" if algo_config(algo).learner == "continuous-actor-critic" else "matrix:qtran"
    config = RunConfig(algo=algo, env=env, seed=0, t_max=64, device="cuda", test_interval=32, test_episodes=8,
                       tensorboard=False, progress=False)
    rows = train_run(config, tmp_path / algo)
    assert [row["t_env"] for row in rows] == [0, 32, 64]
    state = torch.load(tmp_path / algo / "checkpoint.pt", weights_only=True)
    assert state["device"] == "cuda:0" or state["device"] == "cuda"
