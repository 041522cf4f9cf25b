"""Bad input of every kind ends in one sentence, never a traceback (issue 12).

Through the command line each case must exit with status 2 and print exactly one line on stderr that
names the problem, with no "Traceback" anywhere; through the Python API it must raise ``UserError``
with a one-line message. Every case also checks that the existing run folders it may be pointed at
(a tiny ``nqmix train`` run, a sweep folder holding a copy of it, a folder with a corrupt checkpoint)
are left byte for byte as they were. The tiny run is trained once for the module (matrix:qtran,
16 steps); nothing here compiles SMAX.
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nqmix_core import action_selection, cli, report, results
from nqmix_core.config import AlgoConfig, RunConfig
from nqmix_core.registry import algo_config
from nqmix_core.envs.matrix import MatrixGame, TwoStepGame
from nqmix_core.errors import UserError
from nqmix_core.experiment import train_run
from nqmix_core.action_selection import masked_softmax
from nqmix_core.registry import make_env, make_learner
from nqmix_core.runner import rollout

QUICK = ["--algo", "qmix", "--env", "matrix:qtran", "--t-max", "16", "--test-interval", "16", "--test-episodes", "2",
         "--device", "cpu", "--no-progress", "--no-tensorboard"]
"""The tiny run's settings; the train cases start from them, so only the bad part differs."""


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, Path]:
    """RUN: a finished tiny run; SWEEP: a sweep folder with a copy of it; CORRUPT: a junk checkpoint;
    FILE: a regular file; EMPTY: an empty folder; MISSING: a path that does not exist."""
    root = tmp_path_factory.mktemp("bad_input")
    torch.set_num_threads(1)
    assert cli.main(["train", *QUICK, "--out", str(root / "run")]) == 0
    shutil.copytree(root / "run", root / "sweep" / "matrix-qtran" / "qmix" / "seed0")
    (root / "corrupt").mkdir()
    (root / "corrupt" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    (root / "file.txt").write_text("a regular file\n")
    (root / "empty").mkdir()
    # committed results, as every folder under data/ is: a finished run without its checkpoint
    results_sweep = root / "results_sweep" / "matrix-qtran" / "qmix" / "seed0"
    shutil.copytree(root / "run", results_sweep, ignore=shutil.ignore_patterns("checkpoint.pt", "tb"))
    shutil.copytree(results_sweep, root / "results")
    return {"RUN": root / "run", "SWEEP": root / "sweep", "CORRUPT": root / "corrupt", "FILE": root / "file.txt",
            "EMPTY": root / "empty", "MISSING": root / "missing", "RESULTS": root / "results",
            "RESULTS_SWEEP": root / "results_sweep", "ROOT": root}


def fingerprint(places: dict[str, Path]) -> dict[str, str]:
    """sha256 of every file (and the name of every folder) under the existing places."""
    prints = {}
    for name in ("RUN", "SWEEP", "CORRUPT", "EMPTY", "FILE", "RESULTS", "RESULTS_SWEEP"):
        place = places[name]
        for path in sorted([place, *(place.rglob("*") if place.is_dir() else [])]):
            key = str(path.relative_to(places["ROOT"]))
            prints[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
    prints["MISSING exists"] = str(places["MISSING"].exists())
    return prints


def fill(args: list[str], places: dict[str, Path]) -> list[str]:
    """Replace the place names in ``args`` (e.g. "FILE/sub") by real paths."""
    out = []
    for arg in args:
        head, sep, tail = arg.partition("/")
        out.append(str(places[head]) + sep + tail if head in places else arg)
    return out


def assert_one_sentence(text: str, expected: str) -> None:
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert expected in lines[0], lines[0]
    assert lines[0].rstrip().endswith((".", ")")), lines[0]


def train(*args: str) -> list[str]:
    return ["train", *QUICK, "--out", "ROOT/new-run", *args]


CLI_CASES = [
    # algorithm settings, one rule each (nqmix_core/config_checks.py)
    (train("--set", "critic_lr=-1"), "critic_lr=-1.0 must be > 0"),
    (train("--set", "actor_lr=0"), "actor_lr=0.0 must be > 0"),
    (train("--set", "rms_alpha=1"), "rms_alpha=1.0 must be in [0, 1)"),
    (train("--set", "rms_eps=0"), "rms_eps=0.0 must be > 0"),
    (train("--set", "grad_norm_clip=-5"), "grad_norm_clip=-5.0 must be > 0"),
    (train("--set", "gamma=1.5"), "gamma=1.5 must be in [0, 1]"),
    (train("--set", "tau=0"), "tau=0.0 must be in (0, 1]"),
    (train("--set", "epsilon_start=2"), "epsilon_start=2.0 must be in [0, 1]"),
    (train("--set", "epsilon_anneal_steps=-1"), "epsilon_anneal_steps=-1 must be >= 0"),
    (train("--algo", "coma", "--set", "td_lambda=-0.1"), "td_lambda=-0.1 must be in [0, 1]"),
    (train("--algo", "coma", "--set", "critic_hidden_dim=0"), "critic_hidden_dim=0 must be at least 1"),
    (train("--algo", "nqmix", "--set", "updates_per_batch=0"), "updates_per_batch=0 must be at least 1"),
    (train("--algo", "nqmix", "--set", "actor_objective=both"), "actor_objective='both' must be one of sign, mixer"),
    (train("--algo", "nqmix-m", "--set", "mixer_q_weights_positive=true"),
     "mixer_q_weights_positive=True needs mixer='nqmix', not 'qmix-no-abs'"),
    # a learner's own setting, given to another learner, names the learners that have it
    (train("--set", "td_lambda=0.5"), "td_lambda is a setting of COMAConfig (e.g. coma), not of QLearningConfig"),
    (train("--algo", "coma", "--set", "double_q=false"),
     "double_q is a setting of QLearningConfig (e.g. qmix), not of COMAConfig"),
    (train("--algo", "nqmix", "--set", "entropy_coef=-1"), "entropy_coef=-1.0 must be >= 0"),
    (train("--set", "rnn_hidden_dim=0"), "rnn_hidden_dim=0 must be at least 1"),
    (train("--set", "target_update_interval=0"), "target_update_interval=0 must be at least 1"),
    (train("--set", "target_update=sometimes"), "target_update='sometimes' must be one of soft, hard"),
    (train("--set", "critic_lr=nan"), "critic_lr=nan must be a finite number"),
    (train("--set", "batch_size=64", "--set", "buffer_size=32"), "buffer_size=32 must be at least batch_size (64)"),
    (train("--set", "gamma=2", "--set", "tau=-1"), "gamma=2.0 must be in [0, 1], tau=-1.0 must be in (0, 1]"),
    (train("--algo", "nqmix", "--set", "mixer=none"), "mixer='none' does not work with the learner 'actor-critic', which trains with vdn, qmix"),
    (train("--set", "learnig_rate=1e-3"), "--set 'learnig_rate=1e-3': QLearningConfig has no field 'learnig_rate'; its fields are"),
    (train("--set", "batch_size=2.5"), "batch_size takes a whole number"),
    (train("--algo", "nqmix", "--set", "lr=1e-3"), "has no field 'lr' (did you mean critic_lr or actor_lr?)"),
    (train("--algo", "nqmix", "--set", "epsilon=0"), "(did you mean epsilon_start, epsilon_finish or epsilon_anneal_steps?)"),
    (train("--algo", "nqmix", "--set", "critc_lr=1e-3"), "has no field 'critc_lr' (did you mean critic_lr?)"),
    (train("--algo", "qmix", "--set", "learning_rate=1e-3"),
     "has no field 'learning_rate' (did you mean critic_lr or actor_lr?)"),
    (train("--algo", "qmix", "--set", "discount=0.9"), "has no field 'discount' (did you mean gamma?)"),
    (train("--set", "nonsense"), "Cannot read --set 'nonsense'; write NAME=VALUE"),
    # run settings
    (train("--algo", "qmixx"), "Unknown algorithm 'qmixx' (did you mean qmix?); choose one of nqmix"),
    (train("--env", "qtran"), "env='qtran' must be backend:task"),
    (train("--env", "matrix:nope"), "Unknown environment 'matrix:nope'"),
    (train("--seed", "-1"), "seed=-1 must be >= 0"),
    (train("--t-max", "0"), "t_max=0 must be at least 1"),
    (train("--n-envs", "0"), "n_envs=0 must be at least 1"),
    (train("--updates-per-episode", "0"), "updates_per_episode=0.0 must be > 0"),
    (train("--test-interval", "0"), "test_interval=0 must be at least 1"),
    (train("--checkpoint-interval", "-3"), "checkpoint_interval=-3 must be at least 1"),
    (train("--device", "tpu"), "Unknown device 'tpu'"),
    (train("--device", "mps"), "This PyTorch build cannot use device 'mps'"),
    (train("--set", "buffer_size=1e13"), "A replay of 10000000000000 episodes needs about"),
    (train("--reward-scale", "0"), "reward_scale=0.0 must be > 0"),
    (train("--t-max", "1.5e3x"), "argument --t-max: '1.5e3x' is not a whole number"),
    (train("--seed", "1.7"), "argument --seed: '1.7' is not a whole number"),
    (train("--threads", "0"), "--threads must be at least 1"),
    (train("--algo", "coma", "--n-envs", "4"), "n_envs must equal its batch_size and buffer_size"),
    (train("--algo", "nqmix-cont"), "needs continuous actions but the environment's are discrete"),
    # output folders
    (train("--out", "FILE/sub"), "cannot be created because"),
    (train("--out", "FILE"), "is a file; choose another --out"),
    (train("--out", "RUN"), "already holds a run (checkpoint.pt, manifest.json, progress.csv); pass --resume"),
    (train("--out", "RUN", "--resume", "--set", "critic_lr=1e-3"), "was written by a run with other settings (critic_lr)"),
    (train("--out", "EMPTY", "--resume"), "There is no checkpoint to resume"),
    (train("--out", "RESULTS"), "already holds a run (manifest.json, progress.csv); pass --resume"),
    (train("--out", "RESULTS", "--resume"), "holds manifest.json, progress.csv but no checkpoint.pt"),
    (train("--out", "CORRUPT", "--resume"), "could not be read"),
    # plot
    (["plot", "MISSING"], "does not exist"),
    (["plot", "EMPTY"], "No runs under"),
    (["plot", "FILE"], "is a file, not a folder"),
    (["plot", "RUN"], "No runs under"),
    (["plot", "SWEEP", "--out", "FILE/figures"], "cannot be created because"),
    (["plot", "SWEEP", "--out", "ROOT/figures"], "the claims table needs more runs"),
    (["plot", "SWEEP", "--out", "ROOT/figures-m", "--matrix", "MISSING"], "holds no matrix_runs.csv; give a folder that"),
    (["plot", "SWEEP", "--out", "ROOT/figures-m", "--matrix", "EMPTY"], "holds no matrix_runs.csv"),
    (["plot", "SWEEP", "--out", "ROOT/figures-r", "--reference", "SWEEP"], "holds no smax-<map>/reference.csv"),
    # demo and sweep
    (["demo", "--payoff", "1,2;3"], "is not square"),
    (["demo", "--seeds", "0"], "must be at least 1"),
    (["demo", "--smax-steps", "0", "--out", "FILE/demo"], "cannot be created because"),
    (["sweep", "--out", "ROOT/sweep2"], "Give a grid file, or --algos and --envs"),
    (["sweep", "--algos", "qmix", "--envs", "matrix:qtran", "--out", "ROOT/sweep2"], "write each environment as NAME=STEPS"),
    (["sweep", "--algos", "qmixx", "--envs", "matrix:qtran=16", "--out", "ROOT/sweep2"], "Unknown algorithm 'qmixx'"),
    (["sweep", "MISSING/grid.yaml"], "Could not read the grid file"),
    (["sweep", "--algos", "qmix", "--envs", "matrix:qtran=16", "--seeds", "0", "--no-progress", "--out", "FILE/sweep"],
     "cannot be created because"),
    (["sweep", "--algos", "qmix", "--envs", "matrix:qtran=16", "--seeds", "-1", "--out", "ROOT/sweep2"],
     "seeds is [-1]; write a list of whole numbers from 0 up"),
    (["sweep", "--algos", "qmix", "--envs", "matrix:qtran=32", "--seeds", "0", "--out", "RESULTS_SWEEP"],
     "holds manifest.json, progress.csv but no checkpoint.pt, so its run can be neither skipped"),
    (["sweep", "--algos", "qmix", "--envs", "matrix:qtran=16", "--seeds", "0", "--out", "ROOT/sweep3",
      "--backend", "ray", "--no-progress"], "No Ray cluster could be reached at 'auto'"),
]


@pytest.mark.parametrize("args, message", CLI_CASES, ids=[" ".join(a[-2:]) + f" [{i}]" for i, (a, _) in enumerate(CLI_CASES)])
def test_bad_command_line_is_one_sentence_and_exit_code_2(args, message, places, capsys):
    before = fingerprint(places)
    code = cli.main(fill(args, places))
    captured = capsys.readouterr()
    assert code == 2, captured
    assert_one_sentence(captured.err, message)
    assert captured.err.startswith("nqmix: ") and "Traceback" not in captured.out
    assert fingerprint(places) == before


@pytest.mark.parametrize("args, message", [
    (train("--set", "critic_lr=-1"), "critic_lr=-1.0 must be > 0"),
    (["plot", "SWEEP", "--out", "ROOT/figures-of-a-subprocess"], "the claims table needs more runs"),
    (train("--env", "smax:nosuchmap"), "Unknown SMAX map 'nosuchmap'"),  # imports jaxmarl, compiles nothing
])
def test_the_command_in_its_own_process_prints_one_line_and_nothing_else(args, message, places):
    """What a user sees: no warnings, import chatter or traceback around the sentence."""
    before = fingerprint(places)
    result = subprocess.run([sys.executable, "-m", "nqmix_core.cli", *fill(args, places)], capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert result.returncode == 2, result
    assert_one_sentence(result.stderr, message)
    assert result.stdout.strip() == ""
    assert fingerprint(places) == before


def broken_sweep(places, tmp_path, manifest_text: str | None = None, progress_text: str | None = None) -> Path:
    """A copy of the sweep folder whose one run has the given manifest.json / progress.csv text."""
    sweep = tmp_path / "sweep"
    shutil.copytree(places["SWEEP"], sweep)
    run = sweep / "matrix-qtran" / "qmix" / "seed0"
    if manifest_text is not None:
        (run / "manifest.json").write_text(manifest_text)
    if progress_text is not None:
        (run / "progress.csv").write_text(progress_text)
    return sweep


def without_test_interval(places) -> str:
    manifest = json.loads((places["RUN"] / "manifest.json").read_text())
    del manifest["run_config"]["test_interval"]
    return json.dumps(manifest)


@pytest.mark.parametrize("manifest, progress, message", [
    ("{not json", None, "could not be read (Expecting property name"),
    ("[1, 2]", None, "lacks a valid run_config env, algo, seed, t_max, test_interval"),
    ('{"run_config": {"env": "matrix:qtran"}}', None, "lacks a valid run_config algo, seed, t_max, test_interval"),
    (without_test_interval, None, "lacks a valid run_config test_interval (was it written by hand"),
    (None, "", "The log"),
    (None, "t_env,other\n0,1\n", "lacks the column(s) test_greedy_win_rate, test_stochastic_win_rate"),
])
def test_plot_of_a_run_with_a_broken_manifest_or_log(manifest, progress, message, places, tmp_path, capsys):
    manifest = manifest(places) if callable(manifest) else manifest
    sweep = broken_sweep(places, tmp_path, manifest, progress)
    before = {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()}
    assert cli.main(["plot", str(sweep)]) == 2
    assert_one_sentence(capsys.readouterr().err, message)
    assert {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()} == before
    assert not (sweep / "figures").exists()  # nothing is created for a folder that cannot be read
    with pytest.raises(UserError):
        results.load_runs(sweep)


# --- the Python API ------------------------------------------------------------------------------

def user_error(call) -> str:
    with pytest.raises(UserError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and message.endswith("."), message
    return message


@pytest.mark.parametrize("make, message", [
    (lambda: algo_config("nqmix", critic_lr=-1), "critic_lr=-1 must be > 0"),
    (lambda: algo_config("nqmix", learner="sarsa"), "learner='sarsa' must be 'actor-critic' in NQMIXConfig"),
    (lambda: AlgoConfig(), "AlgoConfig is the part every learner shares"),
    (lambda: algo_config("qmix", double_q=1), "double_q=1 must be true or false"),
    (lambda: algo_config("qmix", batch_size="32"), "batch_size='32' must be a whole number"),
    (lambda: algo_config("coma", mixer="qmix"), "mixer='qmix' does not work with the learner 'coma', which trains with none"),
    (lambda: algo_config("nqmix-cont", noise_std_start=-0.1), "noise_std_start=-0.1 must be >= 0"),
    (lambda: algo_config("nqmix-cont", epsilon_start=0.1), "epsilon_start is called noise_std_start now"),
    (lambda: algo_config("nqmix", epsilon_finish=1.5), "epsilon_finish=1.5 must be in [0, 1]"),
    (lambda: algo_config("qmix", lr=1e-3), "Unknown setting(s) lr"),
    (lambda: RunConfig(updates_per_episode=math.inf), "updates_per_episode=inf must be a finite number"),
    (lambda: RunConfig(t_max=1e5), "t_max=100000.0 must be a whole number"),
    (lambda: RunConfig(progress="yes"), "progress='yes' must be true or false"),
    (lambda: make_env("matrix:nope", 1), "Unknown environment 'matrix:nope'; use one of"),  # nothing close
    (lambda: make_env("matrix:qtrn", 1), "Unknown environment 'matrix:qtrn' (did you mean matrix:qtran?)"),
    (lambda: make_env("smx:3m", 1), "Unknown environment 'smx:3m' (did you mean smax:3m?)"),
    (lambda: algo_config("nqmx"), "Unknown algorithm 'nqmx' (did you mean nqmix?)"),
    (lambda: MatrixGame([[1.0, math.nan], [0.0, 1.0]]), "NaN or infinite"),
])
def test_bad_settings_through_the_api(make, message):
    assert message in user_error(make)


def test_noise_std_may_exceed_one_for_continuous_learners():
    assert algo_config("nqmix-cont", noise_std_start=1.5).noise_std_start == 1.5
    assert "epsilon_start=1.5 must be" in user_error(lambda: algo_config("qmix", epsilon_start=1.5))  # ε: a probability


def test_api_bad_folders_change_nothing(places, tmp_path):
    before = fingerprint(places)
    config = RunConfig(algo="qmix", env="matrix:qtran", t_max=16, test_interval=16, test_episodes=2, device="cpu",
                       tensorboard=False, progress=False)
    assert "is a file" in user_error(lambda: train_run(config, places["FILE"] / "sub"))
    assert "already holds a run" in user_error(lambda: train_run(config, places["RUN"]))
    assert "does not exist" in user_error(lambda: report.write_report(places["MISSING"]))
    assert "No runs under" in user_error(lambda: results.load_runs(places["EMPTY"]))
    assert fingerprint(places) == before


# --- an agent with no available action -----------------------------------------------------------

def test_uniform_over_available_is_uniform_over_all_actions_when_none_is_available():
    avail = torch.tensor([[True, False, True, False], [False, False, False, False]])
    expected = torch.tensor([[0.5, 0.0, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    assert torch.equal(action_selection.uniform_over_available(avail), expected)


@pytest.mark.parametrize("epsilon, expected", [
    (0.0, [[0.8, 0.0, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]]),
    (0.5, [[0.65, 0.0, 0.35, 0.0], [0.25, 0.25, 0.25, 0.25]]),  # 0.5 * 0.8 + 0.5 * 0.5 = 0.65
    (1.0, [[0.5, 0.0, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]]),
])
def test_epsilon_floor_is_finite_for_an_agent_with_no_available_action(epsilon, expected):
    avail = torch.tensor([[True, False, True, False], [False, False, False, False]])
    logits = torch.tensor([[math.log(4.0), 7.0, 0.0, 9.0], [1.0, 2.0, 3.0, 4.0]])
    policy = masked_softmax(logits, avail)  # [[0.8, 0, 0.2, 0], uniform]
    floored = action_selection.with_epsilon_floor(policy, avail, epsilon)
    assert torch.allclose(floored, torch.tensor(expected)) and torch.isfinite(floored).all()
    assert torch.allclose(floored.sum(-1), torch.ones(2))
    draws = action_selection.sample(floored.expand(500, 2, 4), torch.Generator().manual_seed(0))  # [500, 2]
    assert set(draws[:, 0].tolist()) <= {0, 2}  # the available agent only ever takes available actions
    explore = action_selection.epsilon_greedy(logits, avail, 1.0, torch.Generator().manual_seed(0))
    assert explore.shape == (2,)


class NoActionAfterFirstStep(TwoStepGame):
    """A broken discrete environment: agent 1 has no available action from ``stuck_from`` on."""

    def __init__(self, stuck_from: int) -> None:
        super().__init__(n_envs=2)
        self.stuck_from, self.t = stuck_from, 0

    def reset(self, seed=None):
        self.t = 0
        return super().reset(seed)

    def step(self, actions):
        self.t += 1
        return super().step(actions)

    def _observation(self):
        obs = super()._observation()
        if self.t >= self.stuck_from:
            obs.avail_actions[:, 1] = False
        return obs


@pytest.mark.parametrize("stuck_from", [0, 1])
def test_a_discrete_environment_without_an_available_action_is_refused_at_the_boundary(stuck_from):
    env = NoActionAfterFirstStep(stuck_from)
    learner = make_learner("nqmix", env.info)
    message = user_error(lambda: rollout(env, learner, "explore", 0, torch.Generator().manual_seed(0)))
    assert f"left agent 1 of copy 0 without any available action at step {stuck_from}" in message


def test_smax_world_state_layout_is_read_from_jaxmarl_and_another_one_is_refused():
    pytest.importorskip("jaxmarl")
    from types import SimpleNamespace

    from nqmix_core.envs import smax, smax_state

    assert smax_state.world_state_unit_features(smax._make_smax("3m", 60)) == 10  # jaxmarl 0.2.0, no compiling
    other = SimpleNamespace(own_features=["health", "x", "y", "weapon_cooldown", "bit_0"], num_allies=3,
                            num_enemies=3, state_size=42)
    assert "install the version it was written for" in user_error(lambda: smax_state.world_state_unit_features(other))
    wider = SimpleNamespace(own_features=list(smax_state.LEADING_FEATURES) + ["bit_0", "bit_1"], num_allies=1,
                            num_enemies=1, state_size=16)
    assert smax_state.world_state_unit_features(wider) == 6  # another block length works when it is stated
    jnp = pytest.importorskip("jax").numpy
    raw = jnp.array([0.5, 16.0, 8.0, 0.5, 1.0, 0.0] + [0.0] * 6 + [0.0, 1.0] + [1.0, 0.0])  # F = 6, two units
    out = smax_state.normalize_world_state(raw, 2, (32.0, 32.0), jnp.array([1.0, 1.0]), 2).tolist()
    assert out[:4] == pytest.approx([0.5, 0.5, 0.25, 0.5]) and out[-2:] == [1.0, 0.0]
    assert "not (F + 2)" in user_error(lambda: smax_state.normalize_world_state(raw[:-1], 2, (32.0, 32.0),
                                                                                jnp.array([1.0, 1.0]), 2))


# --- sweep files, checked whole before anything starts (issue 20) ----------------------------------

GOOD_GRID = {"algos": ["qmix"], "envs": {"matrix:qtran": 16}, "seeds": [0]}


def grid_file(tmp_path, spec) -> str:
    import yaml
    path = tmp_path / "grid.yaml"
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec))
    return str(path)


@pytest.mark.parametrize("spec, message", [
    ({"grids": [{**GOOD_GRID, "seeds": 3}]}, "Grid entry 1 of the grid file"),
    ({"grids": [{**GOOD_GRID, "seeds": ["zero", "one"]}]}, "seeds is ['zero', 'one']; write a list of whole numbers"),
    ({"grids": [{**GOOD_GRID, "seeds": [1.7]}]}, "seeds is [1.7]; write a list of whole numbers from 0 up"),
    ({"grids": [{**GOOD_GRID, "seeds": [-2]}]}, "seeds is [-2]"),
    ({"grids": [{**GOOD_GRID, "envs": ["matrix:qtran"]}]}, "envs is ['matrix:qtran']; write environment: steps pairs"),
    ({"grids": [{**GOOD_GRID, "envs": {"matrix:qtran": "lots"}}]}, "the step budget of matrix:qtran is 'lots'"),
    ({"grids": [{**GOOD_GRID, "algos": "qmix"}]}, "algos is 'qmix'; write a list of names"),
    ({"grids": [GOOD_GRID, {**GOOD_GRID, "colour": 1}]}, "Grid entry 2 of the grid file"),
    ({"grids": []}, "has no grids; list at least one"),
    ({"grids": "qmix"}, "has no grids"),
    ({"grids": [GOOD_GRID], "train": ["device", "cpu"]}, "write a mapping of `nqmix train` options"),
    ({"grids": [GOOD_GRID], "train": {"colour": "blue"}}, "'colour', which is not a `nqmix train` option"),
    ({"grids": [GOOD_GRID], "train": {"seed": 3}}, "which the sweep sets for every cell"),
    ({"grids": [GOOD_GRID], "train": {"set": ["batch_size=5e3", "tau=2"]}}, "tau=2.0 must be in (0, 1]"),
    ({"grids": [GOOD_GRID], "train": {"set": ["batch_size=2.5"]}}, "batch_size takes a whole number"),
    ({"grids": [GOOD_GRID], "train": {"test-interval": "often"}}, "'often' is not a whole number"),
    ({"grids": [GOOD_GRID], "train": {"device": "mps"}}, "cannot use device 'mps'"),
    ({"grids": [{**GOOD_GRID, "envs": {"smax:3mm": 100}}]}, "Unknown SMAX map '3mm' in 'smax:3mm' (did you mean 3m?)"),
    ({"grids": [GOOD_GRID], "extra": 1}, "has extra at its top level"),
])
def test_a_bad_sweep_file_is_one_sentence_before_anything_starts(spec, message, places, tmp_path, capsys):
    before = fingerprint(places)
    out = places["ROOT"] / "sweep-never"
    assert cli.main(["sweep", grid_file(tmp_path, spec), "--out", str(out), "--no-progress"]) == 2
    assert_one_sentence(capsys.readouterr().err, message)
    assert not out.exists()  # no sweep.json, no run folder: nothing started
    assert fingerprint(places) == before


@pytest.mark.parametrize("manifest", ["[1, 2]", '{"status": "finished", "t_env": "16"}', "{not json"])
def test_a_sweep_over_a_folder_with_a_broken_manifest_refuses_it(manifest, places, tmp_path, capsys):
    sweep = broken_sweep(places, tmp_path, manifest)
    (sweep / "matrix-qtran" / "qmix" / "seed0" / "checkpoint.pt").unlink()
    before = {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()}
    code = cli.main(["sweep", "--algos", "qmix", "--envs", "matrix:qtran=16", "--seeds", "0", "--out", str(sweep)])
    assert code == 2
    assert_one_sentence(capsys.readouterr().err, "but no checkpoint.pt, so its run can be neither skipped")
    assert {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()} == before


def test_a_committed_data_folder_is_refused_by_train_and_left_as_it_was(tmp_path, capsys):
    committed = Path(__file__).resolve().parents[1] / "data" / "exploration_2s3z" / "smax-2s3z" / "coma" / "seed1"
    copy = tmp_path / "seed1"
    shutil.copytree(committed, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    assert len((copy / "progress.csv").read_text().splitlines()) == 62  # 61 evaluations and a header
    for extra in ([], ["--resume"]):
        code = cli.main(["train", "--algo", "coma", "--env", "smax:2s3z", "--seed", "1", "--t-max", "300000",
                         "--out", str(copy), *extra])
        assert code == 2
        assert_one_sentence(capsys.readouterr().err, str(copy))
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()} == before


def test_a_second_process_cannot_train_into_a_locked_run(places, tmp_path, capsys):
    import fcntl
    run = tmp_path / "run"
    shutil.copytree(places["RUN"], run)
    with open(run / "run.lock", "a") as held:  # what a running `nqmix train` holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        assert cli.main(["train", *QUICK, "--t-max", "32", "--out", str(run), "--resume"]) == 2
        assert_one_sentence(capsys.readouterr().err, "Another process is training in")
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    (run / "run.lock").unlink()
    assert cli.main(["train", *QUICK, "--t-max", "32", "--out", str(run), "--resume"]) == 0
    assert not (run / "run.lock").exists()  # a run that ends removes its lock


def test_an_interrupted_run_says_so_in_its_manifest(tmp_path, monkeypatch):
    from nqmix_core import train

    def stop(run):
        raise KeyboardInterrupt
    monkeypatch.setattr(train, "step", stop)
    config = RunConfig(algo="qmix", env="matrix:qtran", t_max=16, test_interval=16, test_episodes=2, device="cpu",
                       tensorboard=False, progress=False)
    with pytest.raises(KeyboardInterrupt):
        train_run(config, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert (tmp_path / "run" / "checkpoint.pt").exists()  # written after the first evaluation: resumable


def test_whole_numbers_read_alike_on_the_command_line_and_in_set():
    from nqmix_core.run_options import settings, train_parser
    config, algo = settings(train_parser().parse_args(["--t-max", "1e5", "--set", "batch_size=5e3",
                                                       "--set", "buffer_size=5e3"]))
    assert config.t_max == 100_000 and isinstance(config.t_max, int)
    assert algo.batch_size == 5000 and isinstance(algo.batch_size, int)


# --- nqmix plot reads what it can ----------------------------------------------------------------

def test_plot_skips_malformed_rows_with_one_warning(places, tmp_path, capsys):
    progress = (places["RUN"] / "progress.csv").read_text().splitlines()
    garbage = ",".join(["oops"] * len(progress[0].split(",")))
    nan_step = ",".join(["nan"] + progress[1].split(",")[1:])
    sweep = broken_sweep(places, tmp_path, None, "\n".join([progress[0], garbage, *progress[1:], nan_step]) + "\n")
    with pytest.warns(results.DataWarning, match=r"2 of 4 rows are malformed"):
        runs = results.load_runs(sweep)
    assert runs["t_env"].tolist() == [0, 16] and runs["t_env"].dtype.kind == "i"
    code = cli.main(["plot", str(sweep)])
    err = capsys.readouterr().err
    assert "Traceback" not in err and code == 2  # the one run is too few for the claims; the figures are written
    assert "2 of 4 rows are malformed" in err.splitlines()[0] and (sweep / "figures" / "figure2.png").exists()


def test_nan_win_rates_are_reported_not_averaged_away(places, tmp_path):
    lines = (places["RUN"] / "progress.csv").read_text().splitlines()
    header = lines[0].split(",")
    last = lines[-1].split(",")
    last[header.index("test_greedy_win_rate")] = "nan"
    sweep = broken_sweep(places, tmp_path, None, "\n".join([*lines[:-1], ",".join(last)]) + "\n")
    with pytest.warns(results.DataWarning, match="1 evaluations have no win rate"):
        runs = results.load_runs(sweep)
    final = results.final_win_rates(runs)
    assert math.isnan(final["final"].iloc[0])
    table = results.summary_table(final)
    assert table["no final (NaN)"].iloc[0] == 1 and table["seeds"].iloc[0] == 0


def test_a_finished_run_whose_budget_ends_between_evaluations_is_final_at_its_last_one(tmp_path):
    from nqmix_core import grid
    from nqmix_core import sweep as sweeps
    cells = grid.expand([{"algos": ["qmix", "vdn"], "envs": {"matrix:qtran": 24}, "seeds": [0, 1]}])
    sweeps.sweep(cells, tmp_path, {"test-interval": 16, "test-episodes": 2, "device": "cpu", "no-tensorboard": True},
                 n_jobs=2, progress=False)
    runs = results.load_runs(tmp_path)
    assert not runs["partial"].any()
    final = results.final_win_rates(runs)
    assert sorted(final["method"]) == ["QMIX", "QMIX", "VDN", "VDN"] and set(final["t_env"]) == {16}
    message = user_error(lambda: report.write_report(tmp_path))  # too few maps for the claims: one sentence
    assert "the claims table needs more runs" in message and (tmp_path / "figures" / "figure2.png").exists()


def test_a_checkpoint_that_cannot_be_written_leaves_the_old_one_and_says_why(tmp_path, monkeypatch):
    """A full disk (torch raises RuntimeError half-way through the file): one sentence, the previous
    checkpoint intact, no temporary file left."""
    from nqmix_core import experiment_io

    path = tmp_path / "checkpoint.pt"
    experiment_io.save_checkpoint(path, {"t_env": 1})
    before = path.read_bytes()

    def full_disk(state, temp):
        Path(temp).write_bytes(b"half a file")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1283328 vs 1283224")

    monkeypatch.setattr(experiment_io.torch, "save", full_disk)
    with pytest.raises(UserError, match=r"could not be written .* the previous version is intact: free space, then rerun with --resume"):
        experiment_io.save_checkpoint(path, {"t_env": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_second_sigterm_does_not_interrupt_the_clean_stop():
    import signal

    from nqmix_core import cli

    before = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, cli._interrupt)
        with pytest.raises(KeyboardInterrupt):
            cli._interrupt(signal.SIGTERM, None)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # the next one is ignored
    finally:
        signal.signal(signal.SIGTERM, before)


# --- results of nqmix demo and nqmix reference are never replaced -----------------------------------

def test_demo_and_reference_refuse_a_folder_with_their_results_and_leave_it_as_it_was(tmp_path):
    from nqmix_core.demo import MATRIX_FILES, run_demo
    from nqmix_core.reference import write_references

    demo_out = tmp_path / "demo"
    demo_out.mkdir()
    (demo_out / "matrix_runs.csv").write_text("method,seed\nNQMIX,0\n")  # as data/matrix_qtran holds
    message = user_error(lambda: run_demo(cli.build_parser().parse_args(["demo", "--out", str(demo_out)])))
    assert message.startswith(f"{demo_out} already holds the results of an earlier `nqmix demo` (matrix_runs.csv)")
    assert sorted(p.name for p in demo_out.iterdir()) == ["matrix_runs.csv"] and "matrix_runs.csv" in MATRIX_FILES
    assert (demo_out / "matrix_runs.csv").read_text() == "method,seed\nNQMIX,0\n"

    (tmp_path / "ref" / "smax-3m").mkdir(parents=True)
    (tmp_path / "ref" / "smax-3m" / "reference.csv").write_text("policy,win_rate\nrandom,0.1\n")
    message = user_error(lambda: write_references("smax:3m", tmp_path / "ref", episodes=8))
    assert "already holds the results of an earlier `nqmix reference` (reference.csv)" in message
    assert (tmp_path / "ref" / "smax-3m" / "reference.csv").read_text() == "policy,win_rate\nrandom,0.1\n"


def test_did_you_mean_offers_whole_parts_first_then_close_spellings_and_nothing_far():
    from nqmix_core.errors import did_you_mean

    fields = ["critic_lr", "actor_lr", "gamma"]
    assert did_you_mean("lr", fields, n=3) == " (did you mean critic_lr or actor_lr?)"  # a whole part of each
    assert did_you_mean("lr", fields) == " (did you mean critic_lr?)"  # n caps the list
    assert did_you_mean("gama", fields) == " (did you mean gamma?)"  # a close spelling
    assert did_you_mean("learning_rate", fields, n=3) == ""  # nothing close: no guess
    assert did_you_mean("mono", ["nqmix", "nqmix-mono", "qmix"]) == " (did you mean nqmix-mono?)"
