"""Which small mistakes in a math module the tests would let through: a mutation check.

    python benchmarks/mutants.py nqmix_core/losses.py                   # the tests named in MATH_TESTS
    python benchmarks/mutants.py nqmix_core/continuous_losses.py --jobs 2
    python benchmarks/mutants.py nqmix_core/losses.py --tests tests/test_losses.py tests/test_coma.py
    python benchmarks/mutants.py nqmix_core/runner.py --tests tests/test_rollout.py tests/test_bad_input.py::test_x

Each mutant changes one thing in MODULE: an arithmetic operator (+ and −, × and ÷, ** into ×), a
comparison (< and ≤, > and ≥, == and !=), a unary minus dropped, a small integer (0, 1, 2) raised by one
(an axis, a clamp, an index), a ``.detach()`` dropped, or a reduction swapped (sum and mean, max and min,
argmax and argmin). The tests run on every mutant, in a copy of ``nqmix_core/`` and ``tests/`` under a
temporary folder, so the checkout is never touched. A mutant the tests fail on is *killed*; one they pass on
*survives*, and the script prints each survivor with its source line.

A survivor is either a gap in the tests or a change that computes the same thing (an *equivalent* mutant:
``grad.detach()`` on a gradient that has no graph, ``unsqueeze(-2)`` against ``unsqueeze(2)`` on a
three-axis tensor, the sum over two axes taken in the other order). Only a person can tell them apart, so
nothing is asserted: read each survivor, and write a test for the first kind.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from recording import run_benchmark

ROOT = Path(__file__).resolve().parents[1]
MATH_TESTS = ["tests/test_losses.py", "tests/test_continuous.py", "tests/test_coma.py", "tests/test_mechanism_losses.py",
              "tests/test_ippo.py", "tests/test_iql.py", "tests/test_learners.py", "tests/test_mixers.py",
              "tests/test_diagnostics.py", "tests/test_analysis.py", "tests/test_action_selection.py",
              "tests/test_nqmix_update.py", "tests/test_q_learning.py", "tests/test_agent_network.py",
              "tests/test_actor_networks.py", "tests/test_continuous_update.py"]
BINARY = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult}
COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
REDUCTION = {"sum": "mean", "mean": "sum", "max": "min", "min": "max", "amax": "amin", "amin": "amax",
             "argmax": "argmin", "argmin": "argmax"}


@dataclass(frozen=True)
class Mutant:
    index: int  # the node's position in ast.walk order, so the same mutant can be made again on a fresh tree
    line: int
    change: str


def sites(node: ast.AST) -> list[str]:
    """The changes this script can make at ``node`` (most nodes: none)."""
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        return [f"{type(node.op).__name__} -> {BINARY[type(node.op)].__name__}"]
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE:
        return [f"{type(node.ops[0]).__name__} -> {COMPARE[type(node.ops[0])].__name__}"]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return ["drop unary minus"]
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value in (0, 1, 2):
        return [f"{node.value} -> {node.value + 1}"]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "detach":
        return ["drop .detach()"]
    if isinstance(node, ast.Attribute) and node.attr in REDUCTION:
        return [f".{node.attr} -> .{REDUCTION[node.attr]}"]
    return []


def mutants(source: str) -> list[Mutant]:
    return [Mutant(i, node.lineno, change) for i, node in enumerate(ast.walk(ast.parse(source)))
            for change in sites(node)]


def mutated(source: str, mutant: Mutant) -> str:
    """``source`` with ``mutant`` applied (formatted by ``ast.unparse``: comments go, the code stays)."""
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    node = nodes[mutant.index]
    if isinstance(node, ast.BinOp):
        node.op = BINARY[type(node.op)]()
    elif isinstance(node, ast.Compare):
        node.ops = [COMPARE[type(node.ops[0])]()]
    elif isinstance(node, ast.Constant):
        node.value += 1
    elif isinstance(node, ast.Attribute):
        node.attr = REDUCTION[node.attr]
    else:  # a unary minus or a .detach() call: put what it wraps in its place
        inner = node.operand if isinstance(node, ast.UnaryOp) else node.func.value
        for parent in nodes:
            for name, value in ast.iter_fields(parent):
                if value is node:
                    setattr(parent, name, inner)
                elif isinstance(value, list):
                    value[:] = [inner if v is node else v for v in value]
    return ast.unparse(tree)


def workspace(base: Path) -> Path:
    """A copy of the package and its tests (the data and notebooks linked) that a mutant may change."""
    for name in ("nqmix_core", "tests"):
        shutil.copytree(ROOT / name, base / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", base / "pyproject.toml")
    for name in ("data", "notebooks"):
        (base / name).symlink_to(ROOT / name)
    return base


TEST_TIMEOUT = 600
"""Seconds the tests may take on one mutant (``--timeout``); a mutant that makes them run longer (a loop that no
longer ends) is counted as caught, as the test command would never pass with it."""


def killed(space: Path, module: str, source: str, mutant: Mutant, tests: list[str], timeout: float = TEST_TIMEOUT
           ) -> bool:
    """Whether the tests fail, or do not end within ``timeout`` seconds, with ``mutant`` in place; ``python -m
    pytest`` imports the copy in ``space`` (the current folder comes first on its path)."""
    (space / module).write_text(mutated(source, mutant))
    try:  # no bytecode cache: two mutants of one size written in one second would share a stale .pyc
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                                cwd=space, capture_output=True, timeout=timeout,
                                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    except subprocess.TimeoutExpired:
        return True
    finally:
        (space / module).write_text(source)
    return result.returncode != 0


def checked(args: argparse.Namespace) -> str:
    """MODULE as a path inside the checkout; one sentence (and exit status 2) for what cannot be run."""
    path = Path(args.module).resolve()
    problem = None
    if path.suffix != ".py" or not path.is_file():
        problem = f"{args.module} is not a Python file; give one of the package's, e.g. nqmix_core/losses.py"
    elif not path.is_relative_to(ROOT / "nqmix_core"):
        problem = f"{args.module} is not in {ROOT / 'nqmix_core'}; give a file of the package"
    elif missing := [t for t in args.tests if not (ROOT / t.split("::")[0]).is_file()]:
        problem = (f"no test file {missing[0].split('::')[0]} under {ROOT}; give --tests paths like "
                   "tests/test_losses.py, or one test of a file as tests/test_losses.py::test_name")
    elif args.jobs < 1:
        problem = "--jobs must be at least 1"
    elif not args.timeout > 0:
        problem = "--timeout must be a number of seconds above 0"
    if problem:
        print(f"mutants.py: {problem}.", file=sys.stderr)
        raise SystemExit(2)
    return path.relative_to(ROOT).as_posix()


def report(args: argparse.Namespace) -> None:
    module = checked(args)
    source = (ROOT / module).read_text()
    lines, found = source.splitlines(), mutants(source)
    print(f"{module}: {len(found)} mutants, tests: {' '.join(args.tests)}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        spaces = [workspace(Path(tmp) / f"job{j}") for j in range(args.jobs)]
        share = [found[j::args.jobs] for j in range(args.jobs)]
        outcomes = pool.map(lambda j: [killed(spaces[j], module, source, m, args.tests, args.timeout)
                                      for m in share[j]],
                            range(args.jobs))
        survivors = sorted((m for j, dead in enumerate(outcomes) for m, k in zip(share[j], dead) if not k),
                           key=lambda m: (m.line, m.change))
    print(f"killed {len(found) - len(survivors)} of {len(found)} in {time.perf_counter() - start:.0f} s; "
          f"{len(survivors)} survive (a gap in the tests, or a change that computes the same thing):")
    for m in survivors:
        print(f"  line {m.line:4d}  {m.change:22s}  {lines[m.line - 1].strip()[:90]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="a file of the package, e.g. nqmix_core/losses.py")
    parser.add_argument("--tests", nargs="+", default=MATH_TESTS,
                        help="test files, or single tests as FILE::NAME, to run on each mutant")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once, each in its own copy")
    parser.add_argument("--timeout", type=float, default=TEST_TIMEOUT,
                        help="seconds the tests may take on one mutant; longer counts as caught")
    run_benchmark(parser, report, argv=argv, checkout=ROOT)  # the code measured is this checkout's, copied


if __name__ == "__main__":
    main()
