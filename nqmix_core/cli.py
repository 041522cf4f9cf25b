"""The ``nqmix`` command.

    nqmix demo      train VDN, QMIX, NQMIX-M and NQMIX on the QTRAN matrix game, print what they
                    learned, write a figure and CSVs with a manifest; then a short NQMIX run on
                    smax:3m (the README's main job)
    nqmix train     train one algorithm on one environment with the paper's evaluation protocol
                    (``nqmix_core.experiment``), e.g.
                    nqmix train --algo nqmix --env smax:3m --seed 0 --t-max 200000 --out results/nqmix-3m
    nqmix settings ALGO
                    what ``--set`` may change for an algorithm: each field of its config class, the preset's
                    value and what it means (the learner's own fields first)
    nqmix sweep     train a grid of algorithm × environment × seed (``nqmix_core.sweep``), locally or on Ray
    nqmix reference win rates of random and scripted policies on a SMAX map (what a win rate is worth)
    nqmix plot      the paper's Figure 2 and 3 equivalents and the claims table from a sweep's folder
    nqmix student-edition --out DIR
                    the notebooks for students: no outputs, no solutions (``nqmix_core.student_edition``)
    nqmix slides --out DIR
                    one reveal.js deck per class meeting, from the notebooks (``nqmix_core.slides``)

Mistakes in the input print one sentence and exit with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import warnings
from pathlib import Path

import torch

from nqmix_core.errors import UserError
from nqmix_core.run_options import OneLineParser, add_train_options, command_line, settings, settings_text


def train(args: argparse.Namespace) -> None:
    from nqmix_core.experiment import train_run

    config, algo = settings(args)  # one-sentence errors, before any work
    torch.set_num_threads(args.threads)
    signal.signal(signal.SIGTERM, _interrupt)  # a sweep that ends, or `kill`: stop like Ctrl-C, status "interrupted"
    out = Path(args.out or f"results/{config.algo}_{config.env.replace(':', '-')}_seed{config.seed}")
    command = command_line(args.argv)
    rows = train_run(config, out, resume=args.resume, algo=algo, command=command)
    last, steps = rows[-1], json.loads((out / "manifest.json").read_text())["t_env"]
    print(f"Done: {steps} steps. Last evaluation (step {last['t_env']}): greedy test win rate "
          f"{last['test_greedy_win_rate']:.2f}, stochastic {last['test_stochastic_win_rate']:.2f}; "
          f"logs and checkpoint in {out}.")


def demo(args: argparse.Namespace) -> None:
    from nqmix_core.demo import run_demo

    run_demo(args)


def sweep(args: argparse.Namespace) -> None:
    from nqmix_core import grid
    from nqmix_core import sweep as sweeps

    if args.grid:
        cells, options = grid.load_grid(args.grid)
    elif args.algos and args.envs:
        cells, options = grid.expand([{"algos": args.algos, "envs": grid.parse_envs(args.envs),
                                         "seeds": args.seeds}], "the command line"), {}
    else:
        raise UserError("Give a grid file, or --algos and --envs (NAME=STEPS), e.g. "
                        "`nqmix sweep --algos nqmix qmix --envs smax:3m=20000 --seeds 0 1`.")
    options.update({"device": args.device} if args.device else {})
    out = Path(args.out)
    print(f"{len(cells)} run{'s' * (len(cells) != 1)} into {out}: " + ", ".join(sorted({c.env for c in cells})) + "; backend " + args.backend)
    results = sweeps.sweep(cells, out, options, backend=args.backend, n_jobs=args.jobs,
                           ray_address=args.ray_address, gpus_per_run=args.gpus_per_run,
                           progress=not args.no_progress, pin=args.pin,
                           command=command_line(args.argv), check_only=args.check,
                           drop_checkpoints=args.drop_checkpoints)
    if args.check:
        waiting = sum(status == -1 for status in results.values())
        print(f"The grid checks out: {waiting} runs would start and {len(cells) - waiting} are finished; "
              f"nothing was started.")
        return
    failed = [c for c, status in results.items() if status not in (None, 0)]
    if failed:
        logs = ", ".join(str(c.folder(out) / "train.log") for c in failed)
        raise UserError(f"{len(failed)} of {len(cells)} runs failed (see {logs}); rerun the same command to "
                        f"resume them from their last checkpoints.")
    print(f"All {len(cells)} runs finished in {out}.")


def plot(args: argparse.Namespace) -> None:
    from nqmix_core.report import write_report

    command = command_line(args.argv)
    for path in write_report(args.folder, args.out, args.matrix, args.continuous, args.readme, command,
                             reward_check=args.reward_check, mechanism=args.mechanism, reference=args.reference,
                             long=args.long):
        print(path)


def reference(args: argparse.Namespace) -> None:
    from nqmix_core.reference import write_references

    command = command_line(args.argv)
    rows = write_references(args.env, args.out, args.episodes, args.seed, args.device, command)
    print(f"Reference policies on {args.env}, {args.episodes} battles each (greedy test protocol):")
    for row in rows:
        print(f"  {row['policy']:<15} win rate {row['win_rate']:.2f} [{row['win_rate_low']:.2f}, "
              f"{row['win_rate_high']:.2f}], return {row['return']:.2f}")


def student_edition(args: argparse.Namespace) -> None:
    from nqmix_core.student_edition import write_student_edition

    written = write_student_edition(args.out)
    print(f"Student edition: {len(written)} files in {args.out} (no outputs, no solutions); open them with "
          f"`jupyter lab {args.out}`.")


def slides(args: argparse.Namespace) -> None:
    from nqmix_core.slides import write_slides

    written = write_slides(args.out)
    print(f"Slides: {len(written)} reveal.js decks in {args.out}; open one in a browser (it loads reveal.js "
          f"from a CDN).")


def _warn_in_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"nqmix: warning: {message}", file=sys.stderr)


def _interrupt(signum, frame) -> None:
    """SIGTERM stops a run like Ctrl-C, once: a second SIGTERM (a dying sweep sends its own) is ignored, so it
    cannot interrupt the clean stop or Python's shutdown with a traceback."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="nqmix", description="NQMIX teaching and reproduction kit.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="matrix-game demo: where monotonic mixing fails")
    p.add_argument("--payoff", default="8,-12,-12;-12,0,0;-12,0,0", help="two-agent payoff, rows split by ';'")
    p.add_argument("--seeds", type=int, default=3, help="seeds per method")
    p.add_argument("--updates", type=int, default=400,
                   help="learner updates per run (with --until-fitted: the most a run may make)")
    p.add_argument("--until-fitted", action="store_true",
                   help="train each run until its Q_tot fit stops improving (matrix_fit.train_until_fitted)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--smax-steps", type=int, default=3000,
                   help="environment steps of the short NQMIX run on smax:3m (0 skips it)")
    p.add_argument("--out", default="results/demo", help="folder for the figure, CSVs and manifests")
    p.set_defaults(run=demo)

    t = commands.add_parser("train", help="train one algorithm with the paper's evaluation protocol")
    add_train_options(t)
    t.set_defaults(run=train)

    g = commands.add_parser("settings", help="what --set may change for an algorithm: its fields, values, meaning")
    g.add_argument("algo", help="an algorithm name, as for nqmix train --algo")
    g.set_defaults(run=lambda args: print(settings_text(args.algo)))

    s = commands.add_parser("sweep", help="train a grid of algorithm × environment × seed, resumably",
                            description=__import__("nqmix_core.sweep").sweep.__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("grid", nargs="?", help="YAML grid file (see the format above)")
    s.add_argument("--algos", nargs="+", help="algorithms, when no grid file is given")
    s.add_argument("--envs", nargs="+", help="environments with their step budgets, e.g. smax:3m=20000")
    s.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds (default 0 1 2)")
    s.add_argument("--out", default="results/sweep", help="root folder of the runs")
    s.add_argument("--device", default=None, help="device of every run (default: nqmix train's auto)")
    s.add_argument("--backend", default="local", choices=["local", "ray"], help="where the runs execute")
    s.add_argument("--jobs", type=int, default=1, help="local backend: runs at a time")
    s.add_argument("--pin", action=argparse.BooleanOptionalAction, default=False,
                   help="local backend: run each job on a CPU core of its own, so that their torch and XLA thread "
                        "pools do not oversubscribe the cores; it helps only when nothing else runs (a pinned job "
                        "cannot move to a free core), so it is off by default")
    s.add_argument("--ray-address", default="auto",
                   help="ray backend: cluster address (default auto = the running cluster; local = start a "
                        "private one on this machine, the way to try Ray without a cluster)")
    s.add_argument("--gpus-per-run", type=float, default=0.0, help="ray backend: GPU fraction each run asks for")
    s.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    s.add_argument("--drop-checkpoints", action="store_true",
                   help="delete each run's checkpoint.pt once it has finished (a 1M-step 3s5z checkpoint is about "
                        "5 GB); its results stay, but it can no longer be extended to a larger budget")
    s.add_argument("--check", action="store_true",
                   help="check the grid, its train options and its run folders as the sweep would, start nothing")
    s.set_defaults(run=sweep)

    p = commands.add_parser("plot", help="Figure 2 and 3 equivalents and the claims table from a sweep folder")
    p.add_argument("folder", nargs="?", default="data/reproduction", help="root folder of a sweep")
    p.add_argument("--out", default=None, help="where figures and tables go (default: FOLDER/figures)")
    p.add_argument("--matrix", nargs="+", default=None,
                   help="folder(s) of `nqmix demo` (matrix_runs.csv) for claim C1: the first decides it, any "
                        "others are shown beside it as records ('C1 (record)')")
    p.add_argument("--continuous", default=None, help="sweep folder of continuous:two-peak runs for claim C7")
    p.add_argument("--readme", default=None, help="rewrite the claims table between the markers of this file")
    p.add_argument("--reference", default=None,
                   help="folder of `nqmix reference` (data/reference): scripted policies as reference lines and row R")
    p.add_argument("--reward-check", default=None,
                   help="sweep folder of the scale-10 runs (data/reward_scale): the reward-scale verdict, against "
                        "FOLDER")
    p.add_argument("--mechanism", default=None,
                   help="sweep folder of the NQMIX variants (data/mechanism_2s3z): the mechanism study's verdicts")
    p.add_argument("--long", default=None,
                   help="sweep folder of longer runs (data/long_1m): C2, C3 and R read at 300k and at 1M steps")
    p.set_defaults(run=plot)

    r = commands.add_parser("reference", help="win rates of random and scripted policies on a SMAX map")
    r.add_argument("--env", default="smax:3m", help="a smax:<map> environment")
    r.add_argument("--episodes", type=int, default=320, help="battles per policy (default 320 = 10 evaluations)")
    r.add_argument("--seed", type=int, default=0, help="seed of the battles' starting positions")
    r.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    r.add_argument("--out", default="data/reference", help="root folder; the results go to OUT/<env>/")
    r.set_defaults(run=reference)

    e = commands.add_parser("student-edition", help="write the notebooks without outputs or solutions, for students",
                            description=__import__("nqmix_core.student_edition").student_edition.__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--out", required=True, help="a new or empty folder for the student edition")
    e.set_defaults(run=student_edition)

    d = commands.add_parser("slides", help="one reveal.js deck per notebook, from the notebooks' slide structure",
                            description=__import__("nqmix_core.slides").slides.__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--out", required=True, help="a new or empty folder for the decks")
    d.set_defaults(run=slides)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    warnings.showwarning = _warn_in_one_line
    try:
        parser = build_parser()
        if not argv:
            raise UserError(f"Give a command: {', '.join(parser.sub_parsers())}; `nqmix --help` says what each does.")
        args = parser.parse_args(argv)
        args.argv = argv
        args.run(args)
    except UserError as error:
        print(f"nqmix: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nqmix: interrupted; a `train` run continues from its last checkpoint when rerun with --resume.",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
