"""Environment steps per second of training (collect + learn) on SMAX, against a pymarl-style loop.

    python benchmarks/throughput.py                                  # 3m and 3s5z, nqmix qmix coma
    python benchmarks/throughput.py --maps 3m --algos nqmix --seconds 10

For each map and device (CPU, and CUDA when present) it prints env steps/s of:

* ``env only``: the batched SMAXEnv with random actions (E = --n-envs copies; from
  ``env_throughput.py``), and pymarl's way of stepping one SMAX environment in a Python loop;
* ``collect+learn``: ``train.step`` exactly as ``nqmix train`` runs it: one rollout of E
  episodes, then round(E · updates_per_episode) updates on mini-batches of the preset's 32 episodes
  (or ``--set batch_size=...``; COMA: one update on the E episodes). Shown for 1 update per episode (pymarl's ratio) and 1 per rollout;
* ``overlapped``: 1 update per episode with ``--overlap-collection`` (the rollout runs in a second
  thread during the updates, so this row uses two cores where the others use one);
* ``pymarl-style``: the same code with one environment and one update after every episode, as
  pymarl's episode runner + QMIX learner do. (Its environment step is still jitted, so a real pymarl
  loop is slower; the env-only rows show by how much.)

Replay is filled with one batch of episodes before the clock starts, and compile time is left
out. Nothing is asserted: the machine is shared and these are figures for the docs.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from env_throughput import pymarl_style_rate, wrapper_rate
from recording import run_benchmark

from nqmix_core.config import RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.run_options import parse_settings
from nqmix_core.envs.smax import SMAXEnv
from nqmix_core.train import build_run, step


def training_rate(env: SMAXEnv, algo: str, updates_per_episode: float, seconds: float,
                  device: torch.device, settings: list[str] | None = None, overlap: bool = False) -> tuple[float, float]:
    """(env steps/s, learner updates/s) of collect + learn, after filling one mini-batch of replay; ``settings``
    are ``--set`` items, read against ``algo``'s own config class."""
    config = RunConfig(algo=algo, env=f"smax:{env.map_name}", n_envs=env.n_envs, device=str(device),
                       updates_per_episode=updates_per_episode, overlap_collection=overlap,
                       progress=False, tensorboard=False)
    algo_settings = algo_config(algo, **parse_settings(settings or [], type(algo_config(algo))))
    run = build_run(config, algo_settings, device, env=env)
    while not run.buffer.can_sample(algo_settings.batch_size):  # fill replay (untimed)
        step(run)
    step(run)  # first updates: allocator warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    steps, updates, start = run.counters.t_env, run.counters.updates, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(run)
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return (run.counters.t_env - steps) / elapsed, (run.counters.updates - updates) / elapsed


def report(args: argparse.Namespace) -> None:
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    settings = args.set
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s), E = {args.n_envs}, "
          f"{args.seconds:g} s per row" + (f", settings {' '.join(settings)}" if settings else ""))
    print(f"{'map':<6}{'device':<7}{'what':<44}{'steps/s':>9}{'updates/s':>11}")

    def show(map_name, device, what, rate, updates=math.nan):
        print(f"{map_name:<6}{device:<7}{what:<44}{rate:>9,.0f}{updates:>11.1f}", flush=True)

    for map_name in args.maps:
        show(map_name, "cpu", "env only, pymarl-style 1 env Python loop", pymarl_style_rate(map_name, args.seconds))
        _, live, _ = wrapper_rate(map_name, args.n_envs, args.seconds)
        show(map_name, "cpu", f"env only, SMAXEnv E={args.n_envs}", live)
        for device in devices:
            batched = SMAXEnv(map_name, n_envs=args.n_envs, device=device, seed=0)
            single = SMAXEnv(map_name, n_envs=1, device=device, seed=0)
            for algo in args.algos:
                for label, env, per_episode, overlap in (
                        (f"E={args.n_envs}, 1 update/episode", batched, 1.0, False),
                        (f"E={args.n_envs}, 1 update/episode, overlapped", batched, 1.0, True),
                        (f"E={args.n_envs}, 1 update/rollout", batched, 1 / args.n_envs, False),
                        ("pymarl-style: E=1, 1 update/episode", single, 1.0, False)):
                    if algo_config(algo).on_policy and label != f"E={args.n_envs}, 1 update/episode":
                        continue  # COMA: one update per rollout of 8 (pymarl runs 8 env processes for it)
                    rate, updates = training_rate(env, algo, per_episode, args.seconds, device, settings, overlap)
                    shown = "coma: E=8, 1 update/rollout of 8 episodes" if algo_config(algo).on_policy else f"{algo}: {label}"
                    show(map_name, device.type, shown, rate, updates)
            batched.close()
            single.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=["3m", "3s5z"])
    parser.add_argument("--algos", nargs="+", default=["nqmix", "qmix", "coma"])
    parser.add_argument("--n-envs", type=int, default=8, help="E, environment copies per rollout")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per measurement")
    run_benchmark(parser, report, learner_options=True)


if __name__ == "__main__":
    main()
