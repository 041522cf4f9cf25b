"""Reference policies (issue 23): the scripts' choices by hand, the interval, and the command's errors."""
from __future__ import annotations

import pytest
import torch

from nqmix_core import cli
from nqmix_core.envs.base import EnvInfo, Observation
from nqmix_core.reference import ReferencePolicy, scripted_actions, wilson_interval

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
