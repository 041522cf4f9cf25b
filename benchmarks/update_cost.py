"""What one learner update costs, where the time goes, and how close it is to the machine's limit.

    python benchmarks/update_cost.py                        # nqmix and qmix on smax:3m
    python benchmarks/update_cost.py --algos nqmix --map 3s5z --batches 20

The replay buffer is filled with episodes of the untrained behaviour policy (``--episodes`` of them),
then each algorithm's ``train_step`` runs on the same sampled mini-batches. Printed per update:

* ``ms/update``: wall time of ``train_step`` (forward, backward, optimiser steps, target update);
* ``forward ms``: the learner's ``compute_losses`` alone, without backward;
* ``GFLOP``: floating-point operations of the matrix products (also those inside the GRU and the
  backward pass) as ``torch.profiler`` counts them; element-wise work is not counted. With the
  rate they were done at;
* the rate of one large matrix product on this machine, the most those FLOPs could run at.

``ms/update × updates needed`` bounds a run's wall time from below whatever the environment costs:
the notes of issue #3 use it. Nothing is asserted; the figures are for the docs.
"""
from __future__ import annotations

import argparse
import time

import torch
from recording import run_benchmark
from torch.profiler import ProfilerActivity, profile

from nqmix_core.config import RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.run_options import parse_settings
from nqmix_core.train import build_run, step


def matmul_gflops(size: int = 512, repeats: int = 50) -> float:
    """GFLOP/s of a size × size float32 matrix product: what a dense, well-shaped workload reaches."""
    a = torch.randn(size, size)
    for _ in range(5):
        a @ a
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def measure(algo: str, map_name: str, n_episodes: int, n_batches: int, settings: list[str]) -> dict[str, float]:
    """One learner update's cost on ``map_name``; ``settings`` are ``--set`` items for ``algo``'s config class."""
    config = RunConfig(algo=algo, env=f"smax:{map_name}", device="cpu", progress=False, tensorboard=False)
    overrides = parse_settings(settings, type(algo_config(algo)))
    run = build_run(config, algo_config(algo, **overrides), torch.device("cpu"))
    while len(run.buffer) < n_episodes:
        step(run)  # also trains a little; only the stored episodes matter here
    generator = torch.Generator().manual_seed(0)
    batches = [run.buffer.sample(run.algo.batch_size, generator) for _ in range(n_batches)]
    learner = run.learner
    for batch in batches[:3]:
        learner.train_step(batch, run.counters.t_env, run.counters.episodes)  # warm-up
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as profiler:
        learner.train_step(batches[0], run.counters.t_env, run.counters.episodes)
    flops = sum(event.flops for event in profiler.key_averages())
    start = time.perf_counter()
    for batch in batches:
        learner.compute_losses(batch)
    forward_ms = (time.perf_counter() - start) / n_batches * 1e3
    start = time.perf_counter()
    for batch in batches:
        learner.train_step(batch, run.counters.t_env, run.counters.episodes)
    update_ms = (time.perf_counter() - start) / n_batches * 1e3
    run.env.close()
    return {"update_ms": update_ms, "forward_ms": forward_ms, "gflop": flops / 1e9,
            "steps": sum(b.max_steps for b in batches) / n_batches,
            "mean_length": float(run.buffer.lengths[:len(run.buffer)].float().mean())}


def report(args: argparse.Namespace) -> None:
    peak = matmul_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); a 512x512 matrix product runs at "
          f"{peak:.0f} GFLOP/s here" + (f"; settings {', '.join(args.set)}" if args.set else ""))
    print(f"{'algo':<8}{'map':<6}{'T (batch)':>10}{'mean len':>9}{'ms/update':>11}{'forward ms':>11}"
          f"{'GFLOP':>8}{'GFLOP/s':>9}{'of 512x512':>11}")
    for algo in args.algos:
        m = measure(algo, args.map, args.episodes, args.batches, args.set)
        rate = m["gflop"] / (m["update_ms"] / 1e3)
        print(f"{algo:<8}{args.map:<6}{m['steps']:>10.1f}{m['mean_length']:>9.1f}{m['update_ms']:>11.1f}"
              f"{m['forward_ms']:>11.1f}{m['gflop']:>8.2f}{rate:>9.1f}{rate / peak:>11.0%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=["nqmix", "qmix"])
    parser.add_argument("--map", default="3m")
    parser.add_argument("--episodes", type=int, default=200, help="episodes in replay before measuring")
    parser.add_argument("--batches", type=int, default=40, help="mini-batches timed per algorithm")
    run_benchmark(parser, report, learner_options=True)


if __name__ == "__main__":
    main()
