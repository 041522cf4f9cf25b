"""``nqmix demo``, the README's main job: the matrix-game lesson, then a short NQMIX run on SMAX 3m.

It prints what to expect and why, each method's learned Q_tot table and greedy joint action (in letters),
a success table over seeds, and the SMAX test win rates; it writes the figure, CSVs and manifests.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nqmix_core.devices import resolve_device
from nqmix_core.envs.matrix import QTRAN_PAYOFF
from nqmix_core.errors import UserError
from nqmix_core.run_options import command_line


MATRIX_FILES = ("matrix_runs.csv", "matrix_summary.csv", "matrix_game_q_tot.png", "matrix_manifest.json")
"""What the matrix-game part of ``nqmix demo`` writes into ``--out``."""


def parse_payoff(text: str) -> list[list[float]]:
    """"8,-12,-12;-12,0,0;-12,0,0" -> a two-agent payoff matrix (rows separated by ';')."""
    try:
        rows = [[float(x) for x in row.split(",")] for row in text.split(";")]
    except ValueError:
        raise UserError(f"Could not read the payoff {text!r}; write rows of numbers like "
                        f"'8,-12,-12;-12,0,0;-12,0,0'.") from None
    if len({len(r) for r in rows}) != 1 or len(rows) != len(rows[0]):
        raise UserError(f"The payoff {text!r} is not square; give as many rows as columns.")
    return rows


def run_demo(args: argparse.Namespace) -> None:
    """The README's main job: the matrix-game lesson, then a short NQMIX run on SMAX 3m."""
    from nqmix_core.experiment_io import check_fresh, make_folder

    if args.seeds < 1 or args.updates < 1 or args.smax_steps < 0:
        raise UserError("--seeds and --updates must be at least 1, and --smax-steps at least 0.")
    device = resolve_device(args.device)
    payoff = parse_payoff(args.payoff)
    torch.set_num_threads(1)  # the networks are tiny: extra threads only add overhead
    out = Path(args.out)
    check_fresh(out, MATRIX_FILES, "nqmix demo")
    make_folder(out)
    start = time.perf_counter()
    matrix_demo(payoff, args, device, out)
    if args.smax_steps > 0:
        smax_demo(args, device, out)
    print(f"\nDemo finished in {time.perf_counter() - start:.0f} s; results in {out}.")


def matrix_demo(payoff: list[list[float]], args: argparse.Namespace, device: torch.device, out: Path) -> None:
    """Train every matrix-game method; print the Q_tot tables and the success table; save CSVs, figure, manifest."""
    from nqmix_core.experiment_io import provenance, write_csv, write_json
    from nqmix_core.teaching.matrix_games import MATRIX_METHODS, format_table, run_methods, run_rows, summarise
    from nqmix_core.plotting import q_tot_heatmaps

    print(f"Matrix game, payoff rows = agent 1's action (A, B, C, ...), columns = agent 2's: {payoff}")
    if payoff == [list(map(float, row)) for row in QTRAN_PAYOFF]:
        print("What to expect on the default (QTRAN) payoff: VDN's and QMIX's monotonic mixers cannot represent it, so they "
              "settle on a 0-payoff joint action; NQMIX's critic can fit it when trained on uniformly random data, yet "
              "NQMIX's own actors commit before the critic has learned and rarely reach (A, A) = 8 (notebook 01).")
    budget = f"until each fit converges (at most {args.updates} updates)" if args.until_fitted else f"{args.updates} updates"
    print(f"Training {len(MATRIX_METHODS)} methods x {args.seeds} seeds, {budget}, on {device}.")
    started = provenance(command_line(args.argv))
    clock = time.perf_counter()
    if args.until_fitted:  # the converged protocol: each run trains until its Q_tot fit stops improving
        from nqmix_core.teaching.matrix_fit import run_methods_until_fitted
        runs, fits = run_methods_until_fitted(MATRIX_METHODS, payoff, range(args.seeds), args.updates, device)
    else:
        runs, fits = run_methods(MATRIX_METHODS, payoff, range(args.seeds), args.updates, device), {}
    for label, method_runs in runs.items():
        first = method_runs[0]
        letters = "".join("ABCDEFGH"[u] for u in first.joint_action)
        print(f"\n{label} (seed 0): greedy joint action {letters}, payoff "
              f"{float(first.payoff[first.joint_action]):g}; learned Q_tot:")
        print(_format_matrix(first.q_tot))
    summary = summarise(runs)
    print("\n" + format_table(summary))
    print("success: the share of seeds whose greedy joint action is the payoff's best; Q_tot RMSE: how far the "
          "learned Q_tot table is from the payoff (0 = represented exactly).")
    write_csv(out / "matrix_summary.csv", summary)
    rows = run_rows(runs)
    for row in rows:  # how long each run trained: the fixed budget, or until its fit converged
        fit = fits.get((row["method"], row["seed"]))
        row.update(updates=fit.n_updates if fit else args.updates, converged=int(fit.converged) if fit else "")
    write_csv(out / "matrix_runs.csv", rows)
    fig = q_tot_heatmaps(runs["QMIX"][0].payoff, {k: v[0].q_tot for k, v in runs.items()},
                         {k: v[0].joint_action for k, v in runs.items()})
    fig.savefig(out / "matrix_game_q_tot.png", dpi=110)
    write_json(out / "matrix_manifest.json", {**started, "payoff": payoff, "seeds": args.seeds,
                                              "updates": args.updates, "until_fitted": args.until_fitted,
                                              "methods": MATRIX_METHODS,
                                              "device": str(device), "wall_seconds": round(time.perf_counter() - clock, 1)})


def smax_demo(args: argparse.Namespace, device: torch.device, out: Path) -> None:
    """A short NQMIX run on smax:3m through the same entry point as `nqmix train` (resumed if already there)."""
    from nqmix_core.config import RunConfig
    from nqmix_core.experiment import train_run

    folder = out / "nqmix_smax-3m"
    interval = max(args.smax_steps // 2, 1)
    config = RunConfig(algo="nqmix", env="smax:3m", seed=0, t_max=args.smax_steps, device=str(device),
                       test_interval=interval, test_episodes=16, checkpoint_interval=args.smax_steps,
                       tensorboard=False, progress=False)
    print(f"\nNQMIX on smax:3m for {args.smax_steps} steps (SMAX compiles first, ~20 s); "
          f"16 greedy + 16 stochastic test episodes every {interval} steps.")
    command = command_line(args.argv)
    rows = train_run(config, folder, resume=(folder / "checkpoint.pt").exists(), command=command)
    print(f"  (a smoke test: {args.smax_steps} steps are far too few to win; data/reproduction_cpu holds 150k-step runs "
          f"on 3m. Returns are in SMAX's units, at most 2; the learner saw them × {config.reward_scale:g}.)")
    for row in rows:
        print(f"  step {row['t_env']:>6}: greedy win rate {row['test_greedy_win_rate']:.2f}, "
              f"greedy return {row['test_greedy_return']:.2f}, stochastic win rate {row['test_stochastic_win_rate']:.2f}")


def _format_matrix(table: torch.Tensor) -> str:
    return "\n".join("    " + " ".join(f"{float(x):7.2f}" for x in row) for row in table)
