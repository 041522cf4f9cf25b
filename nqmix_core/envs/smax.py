"""SMAX (JaxMARL's StarCraft-like simulator) behind the batched protocol, E copies in one jit + vmap.

The enemy is JaxMARL's ``HeuristicEnemySMAX`` (it shoots the closest unit in range, otherwise walks to
the mirror image of its start or chases a visible unit). Everything below is about turning that into
the ``[E, N, ...]`` torch tensors of ``base.py`` without changing the task.

Episode end (pymarl / SMAC conventions)
    The default ``episode_limit`` is SMAC's for the map (3m 60, 8m 120, 2s3z 120, 3s5z 150, ...).
    SMAX itself only stops after ``max_steps + 1`` steps, so we do not use its ``done`` flag: after
    each step we read the unit-alive flags and the step counter and report

    * ``terminated`` = every ally dead or every enemy dead (the battle is decided),
    * ``timed_out``  = ``step == episode_limit`` and the battle is not decided,
    * ``won``        = every enemy dead and at least one ally alive. This is exactly when SMAX pays
      its +1 bonus, so ``won`` ⇔ reward ≥ 1 on the final step.

    A copy that has ended is frozen (its state and observation stay as they were, reward 0, flags
    stay set) until ``reset``. We call SMAX's ``step_env``, never the auto-resetting ``step``.

Reward
    SMAX's reward is passed through unchanged: per step, the enemy health lost (each unit's loss as a
    fraction of its maximum health, summed, divided by the number of enemies) plus 1.0 on a win.
    The maximum return is therefore 2.0 (SMAC's is 20: multiply by 10 to compare returns). Damage
    taken is not penalised (as in SMAC's default reward).

Global state (``Observation.state``, length (F+2)·(A+E) for A allies and E enemies; F = 10)
    SMAX's world state is, per unit u (allies first): [health / max health, x, y, weapon cooldown,
    6 unit-type bits]; then the team of every unit (0 or 1); then the unit-type index of every unit
    (0..5). Dead units have all F per-unit features zero. F is read from jaxmarl (``smax_state.py``),
    and a jaxmarl with another layout is refused with a ``UserError``. Three fields are not on a unit scale, and
    we rescale exactly these (the same scaling SMAX applies to an agent's *own* observation):

    * x ← x / map_width, y ← y / map_height (32 × 32 map: alive units lie in [0, 1]),
    * cooldown ← clip(cooldown / weapon_cooldown[type_u], 0, 1). SMAX lets the raw value keep falling
      below zero while a unit does not shoot (−30 after 60 steps), so it is clipped like the obs,
    * type index ← type index / 5 (the number of unit types minus one).

Continuous actions (``continuous=True``, registry name ``smax-cont:<map>``)
    SMAX's ``action_type="continuous"``: each ally sends 4 numbers in [0, 1] (SMAX clips to that box),
    [p_aim, p_move, r, θ], and SMAX *samples* the discrete intent from them: with probability p_move
    the unit moves by r·(cos 2πθ, sin 2πθ) (r = 1 is full speed); otherwise it shoots — with
    probability p_aim the enemy closest to the point at that offset from itself, else its previous
    target. ``avail_actions`` is [E, N, 4]: all True for a living ally, all False for a dead one
    (whose action is ignored). Enemies keep SMAX's discrete heuristic.

JaxMARL quirks handled here
    ``import jaxmarl`` prints two lines, and its (optional) MABrax module sets ``sys.stdout`` and
    ``sys.stderr`` back to ``sys.__stdout__``/``sys.__stderr__``, which defeats
    ``contextlib.redirect_stdout`` and can send later notebook prints to the kernel's terminal.
    ``_load_jaxmarl`` silences the import and restores all four streams. The reset state holds a
    weakly-typed int, so every state we hand back to jit is re-cast to strong types; the jitted
    functions are warmed up in the constructor on the exact input types used later (numpy actions),
    so stepping and resetting never recompile. We do not use ``jaxmarl.wrappers`` (they need ``six``).
    Building an SMAXEnv compiles for about 19 s on 2 CPU cores (once per map and n_envs). JAX's
    persistent compilation cache lets later processes reuse that work (about 8 s instead): we point it
    at ``~/.cache/nqmix/jax`` unless the environment variable ``JAX_COMPILATION_CACHE_DIR`` chooses
    a folder (an unwritable folder only makes JAX warn).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from nqmix_core.envs.base import EnvInfo, Observation, StepResult
from nqmix_core.envs.smax_loader import (  # noqa: F401  (SMAC_EPISODE_LIMITS, smax_map_names: public here too)
    SMAC_EPISODE_LIMITS,
    SMAX_DEFAULT_LIMIT,
    _make_smax,
    _use_compilation_cache,
    smax_map_names,
)
from nqmix_core.envs.smax_state import normalize_world_state
from nqmix_core.errors import UserError

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # the optional [smax] extra is not installed; SMAXEnv says how to fix it
    jax = jnp = None

def episode_flags(unit_alive: Any, step: Any, n_allies: int, episode_limit: int) -> tuple[Any, Any, Any]:
    """(terminated, timed_out, won) from the alive flags [..., A+E] and the step counter [...]."""
    allies_alive = jnp.any(unit_alive[..., :n_allies], axis=-1)
    enemies_alive = jnp.any(unit_alive[..., n_allies:], axis=-1)
    terminated = ~allies_alive | ~enemies_alive
    timed_out = (step >= episode_limit) & ~terminated
    won = allies_alive & ~enemies_alive
    return terminated, timed_out, won


def _strong_types(tree: Any) -> Any:
    """Re-cast every leaf to its own dtype, dropping jax's weak types (which would force a recompile)."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype), tree)


class _Carry(NamedTuple):
    """What one copy keeps between steps: the SMAX state and the observation it produced."""

    state: Any  # HeuristicEnemySMAX State
    obs: Any  # [N, obs_dim] float32
    world_state: Any  # [state_dim] float32, normalised
    avail: Any  # [N, U] bool


class _StepOut(NamedTuple):
    """One batched step: the new carry, the next observation (own buffers), reward and flags."""

    key: Any  # [2] uint32
    carry: _Carry  # batched, [E, ...]
    observation: tuple[Any, Any, Any]  # ([E, N, obs_dim], [E, state_dim], [E, N, U])
    reward: Any  # [E] float32
    terminated: Any  # [E] bool
    timed_out: Any  # [E] bool
    won: Any  # [E] bool


def _build_functions(env: Any, n_envs: int, episode_limit: int, continuous: bool = False) -> tuple[Any, Any]:
    """The batched (un-jitted) reset and step functions for E copies of ``env``."""
    agents = list(env.agents)  # "ally_0" .. "ally_{N-1}"
    n_units = env.num_allies + env.num_enemies
    map_size = (float(env.map_width), float(env.map_height))
    n_unit_types = len(env.unit_type_names)

    def available(state: Any) -> Any:
        if continuous:  # [N, 4]: every component free for a living ally, none for a dead one
            return jnp.broadcast_to(state.state.unit_alive[:len(agents), None], (len(agents), 4))
        avail = env.get_avail_actions(state)
        return jnp.stack([avail[a] for a in agents]).astype(jnp.bool_)  # [N, U]

    def pack(obs: dict, state: Any) -> _Carry:
        return _Carry(state=state,
                      obs=jnp.stack([obs[a] for a in agents]).astype(jnp.float32),  # [N, obs_dim]
                      world_state=normalize_world_state(obs["world_state"], n_units, map_size,
                                                        env.unit_type_weapon_cooldowns, n_unit_types),
                      avail=available(state).astype(jnp.bool_))  # [N, U] (continuous: [N, 4])

    def flags(carry: _Carry) -> tuple[Any, Any, Any]:
        smax_state = carry.state.state  # the inner SMAX state (the outer one adds the enemy policy's)
        return episode_flags(smax_state.unit_alive, smax_state.step, env.num_allies, episode_limit)

    def reset_one(key: Any) -> _Carry:
        obs, state = env.reset(key)
        return pack(obs, state)

    def step_one(key: Any, carry: _Carry, actions: Any) -> tuple[_Carry, Any]:
        terminated, timed_out, _ = flags(carry)
        was_done = terminated | timed_out
        action_dict = {agent: actions[i] for i, agent in enumerate(agents)}  # N scalars
        obs, state, rewards, _, _ = env.step_env(key, carry.state, action_dict)  # never auto-resets
        stepped = pack(obs, state)
        carry = jax.tree.map(lambda old, new: jnp.where(was_done, old, new), carry, stepped)  # frozen if done
        return carry, jnp.where(was_done, 0.0, rewards[agents[0]]).astype(jnp.float32)

    def reset(key: Any) -> tuple[Any, _Carry, tuple[Any, Any, Any]]:
        key, sub = jax.random.split(key)
        carry = _strong_types(jax.vmap(reset_one)(jax.random.split(sub, n_envs)))  # [E, ...]
        return key, carry, (carry.obs, carry.world_state, carry.avail)

    def step(key: Any, carry: _Carry, actions: Any) -> _StepOut:
        key, sub = jax.random.split(key)
        carry, reward = jax.vmap(step_one)(jax.random.split(sub, n_envs), carry, actions)  # [E, ...], [E]
        carry = _strong_types(carry)
        terminated, timed_out, won = flags(carry)  # [E] each
        observation = (carry.obs, carry.world_state, carry.avail)  # returned in buffers of their own
        return _StepOut(key, carry, observation, reward, terminated, timed_out, won)

    return reset, step


class SMAXEnv:
    """E copies of one SMAX map against the heuristic enemy, as torch tensors on ``device``."""

    def __init__(self, map_name: str, n_envs: int, device: torch.device | str = "cpu", seed: int = 0,
                 episode_limit: int | None = None, continuous: bool = False) -> None:
        if n_envs < 1:
            raise UserError(f"n_envs must be at least 1, but it is {n_envs}.")
        limit = SMAC_EPISODE_LIMITS.get(map_name, SMAX_DEFAULT_LIMIT) if episode_limit is None else episode_limit
        if limit < 1:
            raise UserError(f"episode_limit must be at least 1, but it is {limit}.")
        self._env = _make_smax(map_name, limit, continuous)
        self.map_name, self.n_envs, self.device = map_name, n_envs, torch.device(device)
        self.info = EnvInfo(n_agents=self._env.num_agents, obs_dim=self._env.obs_size,
                            state_dim=self._env.state_size,
                            n_actions=len(self._env.continuous_action_dims) if continuous else self._env.num_ally_actions,
                            episode_limit=limit, action_bounds=(0.0, 1.0) if continuous else None)
        self._action_dtype = torch.float32 if continuous else torch.int32
        _use_compilation_cache()
        reset, step = _build_functions(self._env, n_envs, limit, continuous)
        self._seed_fn = jax.jit(lambda s: jax.random.PRNGKey(s))
        self._reset_fn, self._step_fn = jax.jit(reset), jax.jit(step)
        self._warm_up()
        self._key = self._seed_fn(np.uint32(seed % 2**32))
        self._carry: _Carry | None = None

    def _warm_up(self) -> None:
        """Compile reset and step on the exact input types used later (two steps: catches weak types)."""
        key, carry, _ = self._reset_fn(self._seed_fn(np.uint32(0)))
        if self.info.continuous:  # move (p_move = 1) by r = 0: stand still
            stop = np.tile(np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32), (self.n_envs, self.info.n_agents, 1))
        else:
            stop = np.full((self.n_envs, self.info.n_agents), 4, dtype=np.int32)  # action 4 = stop
        for _ in range(2):
            out = self._step_fn(key, carry, stop)
            key, carry = out.key, out.carry
        jax.block_until_ready(out)

    def compile_count(self) -> int:
        """How many versions of reset and step jit has compiled (1 each after warm-up, ideally)."""
        return self._reset_fn._cache_size() + self._step_fn._cache_size() + self._seed_fn._cache_size()

    def _to_torch(self, x: Any) -> torch.Tensor:
        return torch.from_dlpack(x).to(self.device)  # zero-copy on CPU

    def _observation(self, arrays: tuple[Any, Any, Any]) -> Observation:
        obs, state, avail = (self._to_torch(x) for x in arrays)
        return Observation(obs=obs, state=state, avail_actions=avail)  # [E,N,O], [E,S], [E,N,U]

    def reset(self, seed: int | None = None) -> Observation:
        """Start a new episode in every copy; the same seed gives bit-identical episodes."""
        if seed is not None:
            self._key = self._seed_fn(np.uint32(seed % 2**32))
        self._key, self._carry, arrays = self._reset_fn(self._key)
        return self._observation(arrays)

    def step(self, actions: torch.Tensor) -> StepResult:
        """Apply ``actions`` ([E, N] integer, each available; continuous: [E, N, 4] in [0, 1]) in every
        copy that has not ended."""
        if self._carry is None:
            raise RuntimeError("Call reset() before step().")
        expected = (self.n_envs, self.info.n_agents, *((self.info.n_actions,) if self.info.continuous else ()))
        if tuple(actions.shape) != expected:
            raise ValueError(f"actions must have shape {expected}, got {tuple(actions.shape)}.")
        out = self._step_fn(self._key, self._carry, actions.to("cpu", self._action_dtype).numpy())
        self._key, self._carry = out.key, out.carry
        return StepResult(next=self._observation(out.observation), reward=self._to_torch(out.reward),
                          terminated=self._to_torch(out.terminated), timed_out=self._to_torch(out.timed_out),
                          won=self._to_torch(out.won))

    def rng_state(self) -> list[int]:
        """The JAX PRNG key of the simulator as plain ints (a checkpoint stores it)."""
        return np.asarray(self._key).astype(np.uint32).tolist()

    def set_rng_state(self, key: list[int]) -> None:
        """Put back a key from ``rng_state``."""
        self._key = jnp.asarray(np.asarray(key, dtype=np.uint32))

    def close(self) -> None:
        """Drop the jax state; nothing else to release. Safe to call twice."""
        self._carry = None

    def units(self, copy: int = 0) -> dict[str, np.ndarray]:
        """Where every unit of one copy stands now (for drawing an episode; not used in training).

        | key        | shape    | meaning                                          |
        |------------|----------|--------------------------------------------------|
        | positions  | [U, 2]   | x, y on the map (allies first, then enemies)     |
        | health     | [U]      | hit points as a fraction of the unit type's most |
        | alive      | [U] bool |                                                  |
        | team       | [U]      | 0 = our agents, 1 = the heuristic enemy          |
        | types      | [U]      | unit type names, e.g. "marine"                   |
        | attack_actions | [U]  | each unit's action on the step just played, as SMAX records it for attacks (``episode_view.decode_aims`` turns it into targets) |
        """
        if self._carry is None:
            raise RuntimeError("Call reset() before units().")
        state = jax.tree.map(lambda x: np.asarray(x[copy]), self._carry.state.state)
        max_health = np.asarray(self._env.unit_type_health)[state.unit_types]
        return {"positions": state.unit_positions, "health": state.unit_health / max_health,
                "alive": state.unit_alive.astype(bool), "team": state.unit_teams,
                "types": np.array(self._env.unit_type_names)[state.unit_types],
                "attack_actions": state.prev_attack_actions,
                "map_size": (float(self._env.map_width), float(self._env.map_height))}
