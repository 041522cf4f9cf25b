"""SMACEnv without StarCraft II: every installation error path, and the list-to-tensor conversion.

Fake packages are written to a temporary folder put first on ``sys.path``: a fake of oxwhirl's SMAC
(with a tiny scripted ``StarCraft2Env``), a fake of SMAC3 (the optimiser that owns the PyPI name),
and a SMAC whose ``smac.env`` cannot import pysc2.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from nqmix_core.envs.smac import (SMACEnv, env_info_from_smac, read_observation, sc2_path, smac_step_flags,
                                  stack_observations)
from nqmix_core.errors import UserError

FAKE_STARCRAFT2ENV = '''
import numpy as np

N_AGENTS, N_ENEMIES, OBS_DIM, STATE_DIM, LIMIT = 3, 3, 30, 48, 5
N_ACTIONS = 6 + N_ENEMIES


class StarCraft2Env:
    """Scripted by seed: seed 0 wins on step 3, seed 1 times out on step LIMIT, seed 2 loses on step 2.
    Agent 2 dies on step 1, after which only its no-op (action 0) is available."""

    def __init__(self, map_name="8m", difficulty="7", seed=None, continuing_episode=False, **kwargs):
        self.map_name, self.difficulty, self.seed = map_name, difficulty, seed
        self.continuing_episode, self.t, self.launched, self.closed = continuing_episode, 0, False, 0

    def get_env_info(self):
        return {"state_shape": STATE_DIM, "obs_shape": OBS_DIM, "n_actions": N_ACTIONS,
                "n_agents": N_AGENTS, "episode_limit": LIMIT}

    def reset(self):
        self.launched, self.t = True, 0
        return self.get_obs(), self.get_state()

    def _dead(self, agent):
        return agent == 2 and self.t >= 1

    def get_obs(self):
        return [np.full(OBS_DIM, 0.0 if self._dead(a) else 0.1 * (a + 1) + self.t, dtype=np.float32)
                for a in range(N_AGENTS)]

    def get_state(self):
        return np.full(STATE_DIM, float(self.t), dtype=np.float32)

    def get_avail_actions(self):
        return [[1] + [0] * (N_ACTIONS - 1) if self._dead(a) else [0] + [1] * (N_ACTIONS - 1)
                for a in range(N_AGENTS)]

    def step(self, actions):
        avail = self.get_avail_actions()
        assert all(avail[a][int(u)] == 1 for a, u in enumerate(actions)), "unavailable action"
        self.t += 1
        info = {"battle_won": False, "dead_allies": int(self.t >= 1), "dead_enemies": 0}
        if self.seed == 0 and self.t == 3:
            info["battle_won"] = True
            return 20.0, True, info
        if self.seed == 2 and self.t == 2:
            return 0.5, True, info
        if self.t >= LIMIT:
            if self.continuing_episode:
                info["episode_limit"] = True
            return 1.0, True, info
        return 1.0, False, info

    def close(self):
        self.closed += 1
'''

FAKE_MAP_REGISTRY = '''
def get_smac_map_registry():
    return {"3m": {"n_agents": 3, "n_enemies": 3, "limit": 60}, "8m": {"n_agents": 8, "n_enemies": 8, "limit": 120}}
'''


def write_package(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh import folder first on sys.path; forgets every ``smac`` module before and after."""
    def forget_smac() -> None:
        for name in [m for m in sys.modules if m == "smac" or m.startswith("smac.")]:
            del sys.modules[name]

    folder = tmp_path / "site"
    folder.mkdir()
    forget_smac()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    forget_smac()


def install_fake_smac(site: Path) -> None:
    write_package(site, {
        "smac/__init__.py": "",
        "smac/env/__init__.py": "from smac.env.starcraft2.starcraft2 import StarCraft2Env\n",
        "smac/env/starcraft2/__init__.py": "",
        "smac/env/starcraft2/starcraft2.py": FAKE_STARCRAFT2ENV,
        "smac/env/starcraft2/maps/__init__.py": "",
        "smac/env/starcraft2/maps/smac_maps.py": FAKE_MAP_REGISTRY,
    })


def install_starcraft(root: Path, maps: tuple[str, ...] = ("3m",)) -> Path:
    (root / "Versions" / "Base69232").mkdir(parents=True)
    for name in maps:
        path = root / "Maps" / "SMAC_Maps" / f"{name}.SC2Map"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"fake map")
    return root


@pytest.fixture
def fake_smac(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake SMAC installed, StarCraft II with the 3m map at $SC2PATH."""
    install_fake_smac(site)
    monkeypatch.setenv("SC2PATH", str(install_starcraft(tmp_path / "StarCraftII")))
    return tmp_path / "StarCraftII"


def error_message(map_name: str = "3m") -> str:
    with pytest.raises(UserError) as error:
        SMACEnv(map_name, n_envs=2)
    message = str(error.value)
    assert "\n" not in message and message.endswith("."), "one sentence"
    return message


# ---------------------------------------------------------------- installation errors, in check order


def test_smac_not_installed(site: Path) -> None:
    message = error_message()
    assert "pip install git+https://github.com/oxwhirl/smac.git" in message and "StarCraft II" in message


def test_smac3_installed_instead(site: Path) -> None:
    write_package(site, {
        # SMAC3's real __init__ checks its dependencies on import; we must not import it at all.
        "smac/__init__.py": "raise RuntimeError('SMAC3 must not be imported by the check')\n",
        "smac/facade/__init__.py": "",
        "smac/runhistory/__init__.py": "",
        "smac-2.3.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: smac\nVersion: 2.3.1\n",
    })
    message = error_message()
    assert "SMAC3" in message and "hyper-parameter" in message and "2.3.1" in message
    assert "pip uninstall smac" in message and "git+https://github.com/oxwhirl/smac.git" in message


def test_some_other_smac_package(site: Path) -> None:
    write_package(site, {"smac/__init__.py": ""})
    message = error_message()
    assert "no `smac.env`" in message and "pip uninstall smac" in message


def test_smac_without_pysc2(site: Path) -> None:
    write_package(site, {"smac/__init__.py": "", "smac/env/__init__.py": "import pysc2_is_not_installed\n"})
    message = error_message()
    assert "pysc2" in message and "git+https://github.com/oxwhirl/smac.git" in message


def test_unknown_smac_map(site: Path) -> None:
    install_fake_smac(site)
    message = error_message("3z_vs_nothing")
    assert "3z_vs_nothing" in message and "3m, 8m" in message


def test_starcraft_missing_says_set_sc2path(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_smac(site)
    monkeypatch.setenv("SC2PATH", str(tmp_path / "nowhere"))
    message = error_message()
    assert "StarCraft II was not found" in message and "nowhere" in message and "SC2PATH" in message


def test_default_sc2path_is_home_starcraft(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SC2PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    assert sc2_path() == tmp_path / "StarCraftII"
    monkeypatch.setenv("SC2PATH", "~/games/SC2")
    assert sc2_path() == tmp_path / "games" / "SC2"


def test_map_files_missing_say_where_they_go(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_smac(site)
    root = install_starcraft(tmp_path / "SC2", maps=("8m",))
    monkeypatch.setenv("SC2PATH", str(root))
    message = error_message("3m")
    assert str(root / "Maps" / "SMAC_Maps" / "3m.SC2Map") in message
    assert "SMAC_Maps.zip" in message and str(root / "Maps") in message


def test_checks_pass_without_launching_the_game(fake_smac: Path) -> None:
    env = SMACEnv("3m", n_envs=2, seed=10)
    assert [game.launched for game in env._envs] == [False, False]
    assert [game.seed for game in env._envs] == [10, 11]
    assert all(game.difficulty == "7" and game.continuing_episode for game in env._envs)
    assert env.info.n_agents == 3 and env.info.obs_dim == 30 and env.info.n_actions == 9


# ---------------------------------------------------------------- conversion through the fake game


def test_reset_and_step_shapes_and_flags(fake_smac: Path) -> None:
    env = SMACEnv("3m", n_envs=3, seed=0)  # copy 0 wins at step 3, copy 1 times out at 5, copy 2 loses at 2
    observation = env.reset()
    assert observation.obs.shape == (3, 3, 30) and observation.obs.dtype == torch.float32
    assert observation.state.shape == (3, 48) and observation.avail_actions.dtype == torch.bool
    ends: dict[int, tuple[int, bool, bool, bool]] = {}
    for t in range(1, 7):
        avail = observation.avail_actions
        actions = avail.to(torch.int64).argmax(-1)  # [E, N], the first available action
        result = env.step(actions)
        observation = result.next
        assert result.reward.shape == (3,) and result.terminated.dtype == torch.bool
        for copy in range(3):
            ended = bool(result.terminated[copy] | result.timed_out[copy])
            if ended and copy not in ends:
                ends[copy] = (t, bool(result.terminated[copy]), bool(result.timed_out[copy]), bool(result.won[copy]))
    assert ends == {0: (3, True, False, True), 1: (5, False, True, False), 2: (2, True, False, False)}
    assert observation.avail_actions[:, 2].tolist() == [[True] + [False] * 8] * 3, "dead agent: no-op only"
    assert (observation.obs[:, 2] == 0).all()
    env.close()
    env.close()


def test_finished_games_are_not_stepped_again(fake_smac: Path) -> None:
    env = SMACEnv("3m", n_envs=3, seed=0)
    env.reset()
    rewards = []
    for _ in range(6):
        actions = torch.tensor([[1, 1, 0]] * 3)  # after step 1 agent 2 is dead: no-op
        if not rewards:
            actions[:, 2] = 1
        rewards.append(env.step(actions).reward)
    assert [game.t for game in env._envs] == [3, 5, 2], "the fake asserts if stepped after its end"
    assert torch.stack(rewards)[:, 2].tolist() == [1.0, 0.5, 0.0, 0.0, 0.0, 0.0]


def test_step_before_reset_is_an_error(fake_smac: Path) -> None:
    with pytest.raises(RuntimeError, match="reset"):
        SMACEnv("3m", n_envs=1).step(torch.zeros(1, 3, dtype=torch.int64))


# ---------------------------------------------------------------- pure conversion functions


def test_smac_step_flags() -> None:
    assert smac_step_flags(False, {"battle_won": False}) == (False, False, False)
    assert smac_step_flags(True, {"battle_won": True}) == (True, False, True)
    assert smac_step_flags(True, {"battle_won": False}) == (True, False, False)
    assert smac_step_flags(True, {"battle_won": False, "episode_limit": True}) == (False, True, False)
    assert smac_step_flags(True, {}) == (True, False, False)  # SMAC's reply after a crashed game


def test_env_info_from_smac() -> None:
    info = env_info_from_smac({"state_shape": 48, "obs_shape": 30, "n_actions": 9, "n_agents": 3,
                               "episode_limit": 60})
    assert (info.n_agents, info.obs_dim, info.state_dim, info.n_actions, info.episode_limit) == (3, 30, 48, 9, 60)


def test_read_and_stack_observations() -> None:
    class Game:
        def get_obs(self):
            return [np.ones(4, dtype=np.float64), np.zeros(4)]

        def get_state(self):
            return np.arange(5)

        def get_avail_actions(self):
            return [[0, 1, 1], [1, 0, 0]]

    observation = stack_observations([read_observation(Game())] * 2, torch.device("meta"))
    assert observation.obs.shape == (2, 2, 4) and observation.obs.dtype == torch.float32
    assert observation.state.shape == (2, 5) and observation.state.dtype == torch.float32
    assert observation.avail_actions.dtype == torch.bool and observation.obs.device.type == "meta"
    cpu = stack_observations([read_observation(Game())], torch.device("cpu"))
    assert cpu.avail_actions.tolist() == [[[False, True, True], [True, False, False]]]
