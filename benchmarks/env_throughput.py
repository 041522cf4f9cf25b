"""How fast SMAX runs through our torch wrapper, against a pymarl-style one-environment Python loop.

    python benchmarks/env_throughput.py                      # 3m and 3s5z, n_envs 1, 32, 128
    python benchmarks/env_throughput.py --maps 3m --n-envs 1 8 --seconds 1

Random available actions are drawn in torch each step (as a runner would). When every copy has
ended, all copies are reset. Two rates are printed:

* ``live steps/s``: transitions from copies still in their episode (what a learner receives);
* ``copy steps/s``: n_envs × batched steps per second (finished copies are frozen but still computed
  until the slowest copy ends, so this is the raw simulator rate).

The pymarl-style figure steps one SMAX environment in a Python loop: one jitted ``step_env`` and one
jitted ``get_avail_actions`` call per step, observations converted agent by agent to numpy, a numpy
random choice per agent, like pymarl's episode runner does with SMAC. Compile time is printed but not
counted in the rates. Nothing is asserted; these are figures for the docs.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from recording import run_benchmark

from nqmix_core.envs.smax import SMAC_EPISODE_LIMITS, SMAXEnv, _make_smax


def random_actions(avail: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random available action per agent: [E, N, U] bool -> [E, N] int64."""
    scores = torch.rand(avail.shape, generator=generator).masked_fill(~avail, -1.0)  # [E, N, U]
    return scores.argmax(-1)


def wrapper_rate(map_name: str, n_envs: int, seconds: float) -> tuple[float, float, float]:
    """(compile seconds, live steps/s, copy steps/s) for SMAXEnv with ``n_envs`` copies."""
    start = time.perf_counter()
    env = SMAXEnv(map_name, n_envs=n_envs, seed=0)
    compile_seconds = time.perf_counter() - start
    generator = torch.Generator().manual_seed(0)
    live_steps = batched_steps = 0
    observation, done = env.reset(0), torch.zeros(n_envs, dtype=torch.bool)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        result = env.step(random_actions(observation.avail_actions, generator))
        live_steps += int((~done).sum())
        batched_steps += 1
        done |= result.terminated | result.timed_out
        observation = result.next
        if done.all():
            observation, done = env.reset(), torch.zeros(n_envs, dtype=torch.bool)
    elapsed = time.perf_counter() - start
    env.close()
    return compile_seconds, live_steps / elapsed, batched_steps * n_envs / elapsed


def pymarl_style_rate(map_name: str, seconds: float) -> float:
    """Steps/s of one SMAX environment stepped in a Python loop, pymarl-style."""
    import jax

    env = _make_smax(map_name, SMAC_EPISODE_LIMITS[map_name])
    agents, rng = list(env.agents), np.random.default_rng(0)
    key = jax.random.PRNGKey(0)

    def new_episode(key):
        key, reset_key = jax.random.split(key)
        _, state = env.reset(reset_key)
        return key, state

    def one_step(key, state):
        avail = env.get_avail_actions(state)
        actions = {a: int(rng.choice(np.flatnonzero(np.asarray(avail[a])))) for a in agents}
        key, step_key = jax.random.split(key)
        obs, state, rewards, dones, _ = env.step_env(step_key, state, actions)
        _ = [np.asarray(obs[a]) for a in agents], np.asarray(obs["world_state"])
        return key, state, bool(dones["__all__"])

    key, state = new_episode(key)
    for _ in range(3):  # compile outside the timing
        key, state, _ = one_step(key, state)
    key, state = new_episode(key)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        key, state, done = one_step(key, state)
        steps += 1
        if done:
            key, state = new_episode(key)
    return steps / (time.perf_counter() - start)


def report(args: argparse.Namespace) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")
    print(f"{'map':<8}{'how':<22}{'compile s':>10}{'live steps/s':>14}{'copy steps/s':>14}")
    for map_name in args.maps:
        rate = pymarl_style_rate(map_name, args.seconds)
        print(f"{map_name:<8}{'pymarl-style, 1 env':<22}{'':>10}{rate:>14,.0f}{rate:>14,.0f}", flush=True)
        for n_envs in args.n_envs:
            compile_seconds, live, copies = wrapper_rate(map_name, n_envs, args.seconds)
            how = f"SMAXEnv, n_envs={n_envs}"
            print(f"{map_name:<8}{how:<22}{compile_seconds:>10.1f}{live:>14,.0f}{copies:>14,.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=["3m", "3s5z"])
    parser.add_argument("--n-envs", nargs="+", type=int, default=[1, 32, 128])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    run_benchmark(parser, report)


if __name__ == "__main__":
    main()
