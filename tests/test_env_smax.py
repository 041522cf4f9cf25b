"""SMAXEnv: shapes, episode ends, wins, determinism, state scale, no recompilation, error messages.

One 3m environment (8 copies) is shared by the whole module: building it compiles reset and step,
which takes several seconds.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

jax = pytest.importorskip("jax")
pytest.importorskip("jaxmarl")

from nqmix_core.envs import smax as smax_module  # noqa: E402
from nqmix_core.envs.base import BatchedEnv  # noqa: E402
from nqmix_core.envs.smax import SMAXEnv, episode_flags, normalize_world_state  # noqa: E402
from nqmix_core.errors import UserError  # noqa: E402

N_ENVS = 8
STOP, NORTH, ATTACK_0 = 4, 0, 5  # SMAX discrete actions: 0-3 move (0 = +y), 4 stop, 5+ attack enemy j


@pytest.fixture(scope="module")
def env() -> SMAXEnv:
    environment = SMAXEnv("3m", n_envs=N_ENVS, seed=0)
    yield environment
    environment.close()


def random_policy(generator: torch.Generator):
    """A uniformly random available action per agent."""
    def act(t: int, avail: torch.Tensor) -> torch.Tensor:
        scores = torch.rand(avail.shape, generator=generator).masked_fill(~avail, -1.0)  # [E, N, U]
        return scores.argmax(-1)  # [E, N]
    return act


def hide_policy(t: int, avail: torch.Tensor) -> torch.Tensor:
    """Walk north out of the enemy's sight for 8 steps, then stand still: most copies time out."""
    return torch.full(avail.shape[:2], NORTH if t < 8 else STOP)


def focus_fire_policy(t: int, avail: torch.Tensor) -> torch.Tensor:
    """Shoot the lowest-numbered enemy in range, otherwise walk east (towards the enemy): many wins."""
    can_attack = avail[..., ATTACK_0:]  # [E, N, n_enemies]
    target = ATTACK_0 + can_attack.float().argmax(-1)  # [E, N]
    walk = torch.where(avail[..., 1], 1, STOP)  # 1 = east; dead agents can only stop
    return torch.where(can_attack.any(-1), target, walk)


def rollout(env: SMAXEnv, policy, seed: int, n_steps: int | None = None) -> dict[str, torch.Tensor]:
    """Run ``n_steps`` (default: the episode limit) steps; stack everything over time, axis 1 = T."""
    observation = env.reset(seed)
    record = {"obs": [observation.obs], "state": [observation.state], "avail": [observation.avail_actions],
              "reward": [], "terminated": [], "timed_out": [], "won": [], "actions": []}
    for t in range(n_steps or env.info.episode_limit):
        actions = policy(t, observation.avail_actions)
        result = env.step(actions)
        observation = result.next
        for name, value in [("obs", observation.obs), ("state", observation.state),
                            ("avail", observation.avail_actions), ("reward", result.reward),
                            ("terminated", result.terminated), ("timed_out", result.timed_out),
                            ("won", result.won), ("actions", actions)]:
            record[name].append(value)
    return {name: torch.stack(values, dim=1) for name, values in record.items()}  # [E, T(+1), ...]


def end_steps(record: dict[str, torch.Tensor]) -> torch.Tensor:
    """1-based step at which each copy ended (0 if it never did)."""
    done = record["terminated"] | record["timed_out"]  # [E, T]
    first = done.float().argmax(1) + 1  # [E]
    return torch.where(done.any(1), first, torch.zeros_like(first))


def test_satisfies_protocol_and_sizes(env: SMAXEnv) -> None:
    members = set(BatchedEnv.__annotations__) | {"reset", "step", "close"}  # the protocol's members
    assert all(hasattr(env, member) for member in members)
    a, e = 3, 3
    assert env.info.n_agents == a
    assert env.info.obs_dim == 13 * (a - 1) + 13 * e + 10
    assert env.info.state_dim == 12 * (a + e)
    assert env.info.n_actions == 5 + e
    assert env.info.episode_limit == 60  # SMAC's limit for 3m, not SMAX's default of 100


def test_reset_shapes_dtypes_device(env: SMAXEnv) -> None:
    observation = env.reset(0)
    n, info = N_ENVS, env.info
    assert observation.obs.shape == (n, info.n_agents, info.obs_dim) and observation.obs.dtype == torch.float32
    assert observation.state.shape == (n, info.state_dim) and observation.state.dtype == torch.float32
    assert observation.avail_actions.shape == (n, info.n_agents, info.n_actions)
    assert observation.avail_actions.dtype == torch.bool
    assert all(x.device == torch.device("cpu") for x in (observation.obs, observation.state))
    assert observation.avail_actions.any(-1).all()


def test_tensors_land_on_the_requested_device(env: SMAXEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    env.reset(0)
    monkeypatch.setattr(env, "device", torch.device("meta"))  # a device that exists everywhere
    result = env.step(torch.full((N_ENVS, 3), STOP))
    assert result.next.obs.device.type == "meta" and result.reward.device.type == "meta"
    assert result.terminated.dtype == torch.bool and result.reward.shape == (N_ENVS,)


def test_time_out_is_exactly_the_episode_limit(env: SMAXEnv) -> None:
    record = rollout(env, hide_policy, seed=0, n_steps=62)
    ends = end_steps(record)
    assert (ends > 0).all() and (ends <= 60).all(), "every copy must end by SMAC's 3m limit of 60 steps"
    timed_out = record["timed_out"].any(1)  # [E]
    assert timed_out.sum() >= 2, "the hiding policy should time out in several copies"
    assert (ends[timed_out] == 60).all()
    assert not (record["terminated"] & record["timed_out"]).any(), "a time-out is never a termination"
    assert (ends[~timed_out] < 60).all() and record["terminated"].any(1)[~timed_out].all()


def test_finished_copies_are_frozen(env: SMAXEnv) -> None:
    record = rollout(env, random_policy(torch.Generator().manual_seed(1)), seed=1, n_steps=40)
    for copy, end in enumerate(end_steps(record).tolist()):
        assert end > 0, "random play on 3m ends well within 40 steps"
        after = slice(end, None)  # steps end+1 ... (record["reward"][:, t] belongs to step t+1)
        assert (record["reward"][copy, after] == 0).all()
        assert (record["obs"][copy, end:] == record["obs"][copy, end]).all()
        assert (record["terminated"][copy, end - 1:] == record["terminated"][copy, end - 1]).all()


def test_returned_tensors_do_not_alias_the_env_state(env: SMAXEnv) -> None:
    rollout(env, random_policy(torch.Generator().manual_seed(8)), seed=8, n_steps=40)  # every copy ends
    given = env.step(torch.full((N_ENVS, 3), STOP)).next
    expected = given.obs.clone()
    given.obs.fill_(123.0)  # a caller writing into the (zero-copy) tensors it was handed
    given.avail_actions.fill_(False)
    again = env.step(torch.full((N_ENVS, 3), STOP)).next  # frozen copies repeat their stored observation
    assert torch.equal(again.obs, expected) and again.avail_actions[..., STOP].all()


def test_wins_match_the_smax_bonus(env: SMAXEnv) -> None:
    record = rollout(env, focus_fire_policy, seed=2)
    ends = end_steps(record)
    final = ends - 1  # index of the ending step
    rows = torch.arange(N_ENVS)
    won, reward = record["won"][rows, final], record["reward"][rows, final]  # [E]
    assert won.any(), "focus fire wins some 3m battles"
    assert torch.equal(won, reward >= 1.0)
    assert record["terminated"][rows, final][won].all()
    for copy, end in enumerate(ends.tolist()):
        assert not record["won"][copy, : end - 1].any(), "won is False before the final step"
    assert (record["reward"].sum(1) <= 2.0 + 1e-5).all(), "SMAX's maximum return is 2"


def test_observations_state_and_avail_stay_in_range(env: SMAXEnv) -> None:
    for seed, policy in [(3, random_policy(torch.Generator().manual_seed(3))), (4, focus_fire_policy),
                         (5, hide_policy)]:
        record = rollout(env, policy, seed=seed)
        assert record["state"].abs().max() <= 1.05, "the normalised state should be on unit scale"
        assert record["obs"].abs().max() <= 1.0 + 1e-5
        avail = record["avail"]  # [E, T+1, N, U]
        assert avail.any(-1).all(), "every agent always has an available action"
        taken = avail[:, :-1].gather(-1, record["actions"][..., None]).squeeze(-1)  # [E, T, N]
        assert taken.all(), "the test policies only take available actions"
        dead = (record["obs"] == 0).all(-1)  # [E, T+1, N], a dead agent observes zeros
        assert (avail[dead][:, STOP]).all() and not avail[dead].sum(-1).gt(1).any()


def test_same_seed_gives_identical_episodes(env: SMAXEnv) -> None:
    first = rollout(env, random_policy(torch.Generator().manual_seed(7)), seed=11, n_steps=15)
    second = rollout(env, random_policy(torch.Generator().manual_seed(7)), seed=11, n_steps=15)
    for name in first:
        assert torch.equal(first[name], second[name]), name
    other = env.reset(12)
    assert not torch.equal(other.obs, first["obs"][:, 0])
    assert not torch.equal(env.reset().obs, env.reset().obs), "reset() without a seed continues the stream"


def test_no_recompilation_after_warm_up(env: SMAXEnv) -> None:
    compiles: list[str] = []

    def on_event(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    jax.monitoring.register_event_duration_secs_listener(on_event)
    try:
        for seed in (21, None, 22):
            env.reset(seed)
            for _ in range(4):
                env.step(torch.full((N_ENVS, 3), STOP, dtype=torch.int64))
            env.step(torch.full((N_ENVS, 3), STOP, dtype=torch.int32))
    finally:
        jax.monitoring.unregister_event_duration_listener(on_event)
    assert compiles == []
    assert env.compile_count() == 3  # one entry each for seed, reset and step


def test_rejects_actions_of_the_wrong_shape(env: SMAXEnv) -> None:
    env.reset(0)
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(N_ENVS, 2, dtype=torch.int64))


def test_episode_flags_pure_function() -> None:
    alive = jax.numpy.array([[True, False, True, False],  # both sides alive: running or timed out
                             [False, False, True, True],  # allies all dead: lost
                             [True, False, False, False],  # enemies all dead: won
                             [False, False, False, False]])  # all dead: a draw
    step = jax.numpy.array([60, 10, 10, 10])
    terminated, timed_out, won = (x.tolist() for x in episode_flags(alive, step, n_allies=2, episode_limit=60))
    assert terminated == [False, True, True, True]
    assert timed_out == [True, False, False, False]
    assert won == [False, False, True, False]


def test_normalize_world_state_formula() -> None:
    jnp = jax.numpy
    # two units: a stalker (type 2, cooldown 1.87) and a dead marine (type 0), teams 0 and 1
    unit_a = [0.5, 16.0, 8.0, 0.935, 0, 0, 1, 0, 0, 0]
    unit_b = [0.0] * 10
    raw = jnp.array(unit_a + unit_b + [0.0, 1.0] + [2.0, 0.0])
    cooldowns = jnp.array([0.61, 1.07, 1.87, 0.86, 0.5, 0.59])
    out = normalize_world_state(raw, 2, (32.0, 32.0), cooldowns, 6).tolist()
    assert out[:4] == pytest.approx([0.5, 0.5, 0.25, 0.5])
    assert out[10:20] == [0.0] * 10 and out[20:22] == [0.0, 1.0]
    assert out[22:] == pytest.approx([0.4, 0.0])
    below_zero = raw.at[3].set(-30.0)  # SMAX lets an idle unit's cooldown run negative
    assert normalize_world_state(below_zero, 2, (32.0, 32.0), cooldowns, 6)[3] == 0.0


def test_unknown_map_is_a_one_sentence_user_error() -> None:
    with pytest.raises(UserError) as error:
        SMAXEnv("4m_vs_nothing", n_envs=1)
    message = str(error.value)
    assert "4m_vs_nothing" in message and "3m" in message and "3s5z" in message
    assert message.count(".") == 1 and "\n" not in message


def test_missing_jaxmarl_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jaxmarl", None)  # makes `import jaxmarl` raise ImportError
    with pytest.raises(UserError, match=r'pip install -e "\.\[smax\]"'):
        SMAXEnv("3m", n_envs=1)
    monkeypatch.setattr(smax_module, "jax", None)
    with pytest.raises(UserError, match=r'pip install -e "\.\[smax\]"'):
        SMAXEnv("3m", n_envs=1)


def test_importing_jaxmarl_prints_nothing_and_keeps_our_streams() -> None:
    code = ("import sys; out, err = sys.stdout, sys.stderr\n"
            "from nqmix_core.envs.smax import smax_map_names\n"
            "names = smax_map_names()\n"
            "assert sys.stdout is out and sys.stderr is err, 'jaxmarl replaced sys.stdout/stderr'\n"
            "print('3m' in names)")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True\n"


def test_compiled_code_is_cached_on_disk_unless_the_user_chose_a_folder(monkeypatch, tmp_path) -> None:
    jax = smax_module.jax
    before = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
        smax_module._use_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / ".cache" / "nqmix" / "jax")
        jax.config.update("jax_compilation_cache_dir", None)
        monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
        smax_module._use_compilation_cache()  # the variable is the user's choice: JAX reads it itself
        assert jax.config.jax_compilation_cache_dir is None
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
