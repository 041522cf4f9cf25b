"""Reference policies (issue 23): the scripts' choices by hand, the interval, and the command's errors."""
from __future__ import annotations

import pytest
import torch

from nqmix_core import cli
from nqmix_core.envs.base import EnvInfo, Observation
from nqmix_core.reference import ReferencePolicy, scripted_actions, wilson_interval
from tests.helpers import reference_folder

# 2 allies, 2 enemies, per-unit block F = 10 (health, x, y, cooldown, 6 type bits), then team and type per unit
INFO = EnvInfo(n_agents=2, obs_dim=3, state_dim=(10 + 2) * 4, n_actions=5 + 2, episode_limit=10)


def state(units: list[tuple[float, float, float]]) -> torch.Tensor:
    """[1, S] from (health, x, y) per unit, allies first."""
    blocks = [[h, x, y] + [0.0] * 7 for h, x, y in units]
    return torch.tensor([sum(blocks, []) + [0.0] * 8])


def avail(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor([rows], dtype=torch.bool)  # [1, N, U]


def test_scripts_shoot_by_their_rule_and_otherwise_step_toward_the_closest_enemy():
    s = state([(1.0, 0.2, 0.2), (1.0, 0.5, 0.5), (0.9, 0.6, 0.5), (0.3, 0.2, 0.5)])
    # ally 0: nothing in range; ally 1: both enemies in range
    a = avail([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]])
    first, closest, weakest, hold = (scripted_actions(s, a, INFO, n)[0].tolist()
                                     for n in ("script-first", "script-closest", "script-weakest", "hold-weakest"))
    # ally 0's closest enemy is enemy 1 at (0.2, 0.5): straight up, action 0 (+y)
    assert first == [0, 5] and closest == [0, 5]  # enemy 0 is first and closest to ally 1
    assert weakest == [0, 6]  # enemy 1 has the least health
    assert hold == [4, 6]  # nothing in range: stop


def test_a_dead_agent_stops_and_dead_enemies_are_ignored():
    s = state([(0.0, 0.0, 0.0), (1.0, 0.5, 0.5), (0.0, 0.5, 0.6), (0.5, 0.9, 0.5)])
    a = avail([[0, 0, 0, 0, 1, 0, 0], [1, 1, 1, 1, 1, 0, 0]])
    actions = scripted_actions(s, a, INFO, "script-closest")[0].tolist()
    assert actions == [4, 1]  # the dead ally stops; ally 1 walks +x toward the living enemy 1, not the dead one


def test_random_plays_only_available_actions():
    obs = Observation(obs=torch.zeros(64, 2, 3), state=torch.zeros(64, INFO.state_dim),
                      avail_actions=avail([[0, 1, 0, 0, 1, 0, 1], [0, 0, 0, 0, 1, 0, 0]]).expand(64, 2, 7))
    actions, _ = ReferencePolicy(INFO, "random").act(obs, None, torch.zeros(64, 2, 1), "greedy", 0,
                                                     torch.Generator().manual_seed(0))
    assert set(actions[:, 0].tolist()) == {1, 4, 6} and set(actions[:, 1].tolist()) == {4}


def test_wilson_interval_known_values():
    low, high = wilson_interval(16, 32)
    assert low == pytest.approx(0.3363, abs=1e-4) and high == pytest.approx(0.6637, abs=1e-4)
    assert wilson_interval(0, 32)[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("args, message", [
    (["--env", "matrix:qtran"], "give a smax:<map> environment"),
    (["--env", "smax:3m", "--episodes", "0"], "--episodes must be at least 1"),
])
def test_reference_command_refuses_bad_input_in_one_sentence(args, message, tmp_path, capsys):
    assert cli.main(["reference", *args, "--out", str(tmp_path / "ref")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and not (tmp_path / "ref").exists()


# 2 allies, 3 enemies: unequal counts, so a wrong axis cannot pass by having the same size
INFO3 = EnvInfo(n_agents=2, obs_dim=3, state_dim=(10 + 2) * 5, n_actions=5 + 3, episode_limit=10)


def state3(units: list[tuple[float, float, float]]) -> torch.Tensor:
    blocks = [[h, x, y] + [0.0] * 7 for h, x, y in units]
    return torch.tensor([sum(blocks, []) + [0.0] * 10])


@pytest.mark.parametrize("enemy_xy, move", [((0.5, 0.9), 0), ((0.9, 0.5), 1), ((0.5, 0.1), 2), ((0.1, 0.5), 3)])
def test_out_of_range_a_script_takes_the_move_straight_toward_the_closest_living_enemy(enemy_xy, move):
    far = (5.0, 5.0)  # alive, but farther than the one placed
    s = state3([(1.0, 0.5, 0.5), (1.0, 5.0, 5.0), (1.0, *far), (1.0, *enemy_xy), (0.0, 0.5, 0.55)])  # enemy 2 dead
    a = torch.tensor([[[1, 1, 1, 1, 1, 0, 0, 0]] * 2], dtype=torch.bool)  # nobody in range
    assert scripted_actions(s, a, INFO3, "script-closest")[0, 0] == move


def test_each_script_picks_its_enemy_among_those_in_range():
    # ally 0 at (0.5, 0.5); enemy 0 out of range; enemies 1 and 2 in range, equally weak, enemy 2 closer
    s = state3([(1.0, 0.5, 0.5), (1.0, 0.0, 0.0), (0.2, 0.5, 0.52), (0.5, 0.9, 0.5), (0.5, 0.6, 0.5)])
    a = torch.tensor([[[1, 1, 1, 1, 1, 0, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]]], dtype=torch.bool)
    assert scripted_actions(s, a, INFO3, "script-first").shape == (1, 2)  # [E, N]: one action per agent
    picks = {name: scripted_actions(s, a, INFO3, name)[0, 0].item()
             for name in ("script-first", "script-closest", "script-weakest", "hold-weakest")}
    assert picks == {"script-first": 6, "script-closest": 7, "script-weakest": 7, "hold-weakest": 7}
    # ally 1 at (0, 0) has nothing in range: the scripts walk toward enemy 0 at (0.5, 0.52) (+y first), hold stops
    walks = {name: scripted_actions(s, a, INFO3, name)[0, 1].item() for name in ("script-first", "hold-weakest")}
    assert walks == {"script-first": 0, "hold-weakest": 4}


def test_wilson_interval_of_no_battles_is_everything():
    assert wilson_interval(0, 0) == (0.0, 1.0)


class EvenCopiesWin:
    """Battles of one step: the even copies win whatever is played (a fake SMAX with the state layout of INFO)."""

    def __init__(self, n_envs: int = 8) -> None:
        self.info, self.n_envs, self.device = INFO, n_envs, torch.device("cpu")

    def reset(self, seed=None):
        return Observation(torch.zeros(self.n_envs, 2, 3), torch.zeros(self.n_envs, INFO.state_dim),
                           torch.ones(self.n_envs, 2, INFO.n_actions, dtype=torch.bool))

    def step(self, actions):
        from nqmix_core.envs.base import StepResult
        won = torch.arange(self.n_envs) % 2 == 0
        return StepResult(next=self.reset(), reward=won.float(), terminated=torch.ones(self.n_envs, dtype=torch.bool),
                          timed_out=torch.zeros(self.n_envs, dtype=torch.bool), won=won)

    def close(self):
        pass


def test_the_reference_command_writes_every_policys_wins_and_interval_and_its_manifest(tmp_path, monkeypatch):
    import json

    from nqmix_core import registry
    from nqmix_core.reference import POLICIES, write_references
    monkeypatch.setattr(registry, "make_env", lambda name, n_envs, device, seed: EvenCopiesWin(n_envs))
    rows = write_references("smax:3m", tmp_path, episodes=1, seed=4)  # one battle is enough to be allowed
    assert [r["policy"] for r in rows] == list(POLICIES)
    rows = write_references("smax:3m", tmp_path / "more", episodes=16, seed=4)
    low, high = wilson_interval(8, 16)
    assert all((r["wins"], r["win_rate"], r["win_rate_low"], r["win_rate_high"]) == (8, 0.5, low, high) for r in rows)
    folder = tmp_path / "more" / "smax-3m"
    assert (folder / "reference.csv").read_text().splitlines()[0].startswith("policy,episodes,wins,win_rate")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["env"], manifest["episodes"], manifest["seed"], manifest["policies"]) == ("smax:3m", 16, 4,
                                                                                                list(POLICIES))
    assert 0 <= manifest["wall_seconds"] < 600


def test_the_strongest_script_is_never_the_random_policy(tmp_path):
    reference_folder(tmp_path, "2s3z",
                     "random,320,200,0.625,0.57,0.68,1.0\nscript-first,320,100,0.3125,0.26,0.37,0.5\n"
                     "script-weakest,320,120,0.375,0.32,0.43,0.6\n")
    from nqmix_core.reference import strongest_scripts
    assert strongest_scripts(tmp_path) == {"2s3z": {"policy": "script-weakest", "win_rate": 0.375,
                                                    "win_rate_low": 0.32, "win_rate_high": 0.43}}
