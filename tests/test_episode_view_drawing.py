"""Drawing SMAX battles: whom an agent shoots (jaxmarl's action layout), the focus-fire count, the figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nqmix_core.teaching.episode_view import (FONT_SIZE, SMAX_MOVE_ACTIONS, EpisodeFrames, attack_targets,  # noqa: E402
                                     decode_aims, draw_battles, focus_fire, snapshot_steps)

N_ALLIES = 3  # 3m: units 0-2 are ours, 3-5 the enemy's


def test_attack_targets_decode_moves_stop_and_shots():
    actions = np.array([[0, 4, 5], [6, 7, 3]])  # [T, N]: move, stop, shoot E0 / shoot E1, shoot E2, move
    assert attack_targets(actions, N_ALLIES).tolist() == [[-1, -1, 3], [4, 5, -1]]


def test_attack_targets_match_which_unit_jaxmarl_damages():
    jax = pytest.importorskip("jax")
    smax = pytest.importorskip("jaxmarl.environments.smax")
    env = smax.SMAX(scenario=smax.map_name_to_scenario("3m"), world_steps_per_env_step=1)
    assert env.num_movement_actions == SMAX_MOVE_ACTIONS
    _, state = env.reset(jax.random.PRNGKey(0))
    close_together = jax.numpy.array([[10.0, 10], [10, 11], [10, 12], [12, 10], [12, 11], [12, 12]])
    state = state.replace(unit_positions=close_together)  # everyone in range of everyone
    ally_actions = np.array([SMAX_MOVE_ACTIONS + 2, SMAX_MOVE_ACTIONS + 0, 4])  # shoot E2, shoot E0, stop
    actions = dict(zip(env.agents, [*ally_actions.tolist(), 4, 4, 4]))  # the enemies stop
    _, next_state, *_ = env.step_env(jax.random.PRNGKey(1), state, actions)
    damaged = np.flatnonzero(np.asarray(next_state.unit_health) < np.asarray(state.unit_health))
    assert sorted(damaged.tolist()) == sorted(t for t in attack_targets(ally_actions, N_ALLIES) if t >= 0)


def test_decoded_aims_match_which_unit_jaxmarl_damages_for_both_teams():
    jax = pytest.importorskip("jax")
    smax = pytest.importorskip("jaxmarl.environments.smax")
    env = smax.SMAX(scenario=smax.map_name_to_scenario("3m"), world_steps_per_env_step=1)
    _, state = env.reset(jax.random.PRNGKey(0))
    close_together = jax.numpy.array([[10.0, 10], [10, 11], [10, 12], [12, 10], [12, 11], [12, 12]])
    state = state.replace(unit_positions=close_together)
    for unit, action in [(3, SMAX_MOVE_ACTIONS + 0), (4, SMAX_MOVE_ACTIONS + 2), (1, SMAX_MOVE_ACTIONS + 1)]:
        actions = dict(zip(env.agents, [4] * 6))  # everyone stops but one shooter
        actions[env.agents[unit]] = action
        _, next_state, *_ = env.step_env(jax.random.PRNGKey(1), state, actions)
        damaged = np.flatnonzero(np.asarray(next_state.unit_health) < np.asarray(state.unit_health))
        aims = decode_aims(np.asarray(next_state.prev_attack_actions), N_ALLIES)  # [U]
        assert damaged.tolist() == [aims[unit]] and (np.delete(aims, unit) == -1).all()


def test_focus_fire_counts_steps_with_two_or_more_shooters():
    shoot = SMAX_MOVE_ACTIONS
    actions = np.array([[[shoot, shoot, shoot],  # all on E0: focused
                         [shoot, shoot + 1, 0],  # E0 and E1: not focused
                         [shoot, 0, 0],  # one shooter: not counted
                         [shoot, shoot, 0]]])  # [E=1, T=4, N=3], the copy has ended: not counted
    avail = np.zeros((1, 4, 3, SMAX_MOVE_ACTIONS + 3), dtype=bool)  # [E, T, N, U]
    avail[..., :SMAX_MOVE_ACTIONS] = True
    avail[..., SMAX_MOVE_ACTIONS:SMAX_MOVE_ACTIONS + 2] = True  # E0 and E1 in range of everyone
    filled = np.array([[True, True, True, False]])  # [E, T]
    result = focus_fire(actions, avail, filled)
    assert (result["steps"], result["focused"], result["fraction"]) == (2, 1, 0.5)
    assert result["chance"] == pytest.approx((1 / 4 + 1 / 2) / 2)  # 3 shooters: 2·(1/2)³; 2 shooters: 1/2


def test_focus_fire_without_shooting_is_nan():
    result = focus_fire(np.zeros((2, 3, 3), int), np.ones((2, 3, 3, 8), bool), np.ones((2, 3), bool))
    assert result["steps"] == 0 and np.isnan(result["fraction"])


def hand_made_episode(actions: list[list[int]], won: bool) -> EpisodeFrames:
    """Copy 0 of a 3-vs-3 battle whose units stand still; one enemy dies on the last step."""
    n_steps = len(actions)
    positions = np.array([[10.0, 10], [10, 11], [10, 12], [13, 10], [13, 11], [13, 12]])  # [U, 2]
    units = [{"positions": positions, "health": np.ones(6), "alive": np.arange(6) != 3 if t == n_steps else
              np.ones(6, bool), "team": np.array([0, 0, 0, 1, 1, 1]), "types": np.array(["marine"] * 6),
              "map_size": (32.0, 32.0)} for t in range(n_steps + 1)]
    return EpisodeFrames(units=units, won=won, episode_return=0.0, actions=np.array([actions]),  # [1, T, N]
                         avail_actions=np.ones((1, n_steps, 3, 8), bool), filled=np.ones((1, n_steps), bool))


def test_snapshots_pick_shooting_steps_and_the_end():
    episode = hand_made_episode([[1, 1, 1], [5, 5, 5], [1, 1, 1], [5, 6, 5], [1, 1, 1]], won=True)
    assert snapshot_steps(episode, n_panels=3) == [1, 3, 5]


def test_draw_battles_has_a_panel_per_snapshot_and_an_arrow_per_shot():
    before = hand_made_episode([[0, 0, 0]] * 8, won=False)
    after = hand_made_episode([[1, 1, 1], [5, 5, 5], [5, 6, 4]], won=True)
    fig = draw_battles({"before": before, "after": after}, n_panels=4)
    panels = np.array(fig.axes).reshape(2, 4)
    assert [ax.get_title() for ax in panels[1]] == ["step 1", "step 2", "step 3 · won", ""]  # 3 of 4 used
    arrows = [sum(1 for text in ax.texts if text.arrow_patch is not None) for ax in panels[1, :3]]
    assert arrows == [3, 2, 0]
    assert panels[0, -1].get_title() == "step 8 · lost"
    assert len(fig.legends) == 1
    plt.close(fig)


def test_rows_share_one_scale_and_enemy_aims_are_drawn():
    before = hand_made_episode([[0, 0, 0]] * 3, won=False)
    far = [{**u, "positions": u["positions"] * [1.0, 2.0]} for u in before.units]  # a taller battle
    before = EpisodeFrames(far, False, 0.0, before.actions, before.avail_actions, before.filled)
    after = hand_made_episode([[5, 5, 5], [6, 6, 6]], won=True)
    after.units[1]["aims"] = np.array([3, 3, 3, 0, 2, -1])  # our three on E0; E0 aims at 0, E1 at 2
    fig = draw_battles({"before": before, "after": after}, n_panels=3)
    panels = np.array(fig.axes).reshape(2, 3)
    spans = [np.diff(ax.get_xlim())[0] / ax.get_position().width for ax in panels[:, 0]]  # data units per figure
    assert spans[0] == pytest.approx(spans[1])
    arrows = [text.arrow_patch for text in panels[1, 0].texts if text.arrow_patch is not None
              and text.get_text() == ""]  # aims; the enemy labels' leader lines carry their text
    assert len(arrows) == 3 + 2 and len({a.get_linestyle() for a in arrows}) == 2  # ours solid, theirs dashed
    sizes = [t.get_fontsize() for ax in fig.axes for t in [*ax.texts, ax.title]] + \
            [t.get_fontsize() for t in fig.legends[0].get_texts()]
    assert min(sizes) >= FONT_SIZE and fig.get_figwidth() <= 9.0
    plt.close(fig)


def test_record_episode_is_the_episode_played_step_by_step(smax_env):
    """``record_episode`` goes through ``runner.rollout``; the same seed played by hand, step by step, gives
    the same actions, availabilities, steps, return, outcome and pictures of copy 0."""
    import torch

    from nqmix_core.teaching.episode_view import record_episode, unit_aims
    from nqmix_core.registry import make_learner
    from nqmix_core.specs import no_previous_actions

    torch.manual_seed(0)
    learner = make_learner("coma", smax_env.info)  # a stochastic policy, so copies play different battles
    frames = record_episode(smax_env, learner, "stochastic", seed=3, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(1)
    obs, hidden = smax_env.reset(3), learner.initial_hidden(smax_env.n_envs)
    last = no_previous_actions(smax_env.info, smax_env.n_envs, "cpu")
    running, units, total, won, actions, avail, filled = torch.ones(smax_env.n_envs, dtype=torch.bool), \
        [smax_env.units(0)], 0.0, False, [], [], []
    while running.any():
        chosen, hidden = learner.act(obs, last, hidden, "stochastic", 0, generator)
        actions.append(chosen), avail.append(obs.avail_actions), filled.append(running.clone())
        result = smax_env.step(chosen)
        if running[0]:
            units.append({**smax_env.units(0), "aims": unit_aims(smax_env.units(0))})
            total, won = total + float(result.reward[0]), bool(result.won[0])
        running &= ~(result.terminated | result.timed_out)
        obs, last = result.next, chosen
    filled = torch.stack(filled, 1)
    assert np.array_equal(frames.filled, filled.numpy())
    assert np.array_equal(frames.actions, torch.stack(actions, 1).numpy())
    assert np.array_equal(frames.avail_actions[filled.numpy()], torch.stack(avail, 1)[filled].numpy())
    assert (frames.episode_return, frames.won, len(frames.units)) == (total, won, len(units))
    assert all(np.array_equal(a["positions"], b["positions"]) for a, b in zip(frames.units, units))
