"""`nqmix sweep`: grid expansion, skipping and resuming cells, failures reported, local and Ray backends."""
from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nqmix_core import cli, grid, sweep
from nqmix_core.errors import UserError

TINY = {"test-interval": 32, "test-episodes": 8, "device": "cpu", "no-tensorboard": True}
"""Options that make a matrix-game cell take a few seconds (mostly interpreter start-up)."""


def test_expand_orders_seed_by_seed_and_drops_repeats():
    cells = grid.expand([
        {"algos": ["nqmix", "qmix"], "envs": {"smax:3m": 100, "smax:2s3z": 50}, "seeds": [0, 1]},
        {"algos": ["nqmix-m", "nqmix"], "envs": {"smax:2s3z": 50}, "seeds": [0, 1]},
    ])
    assert len(cells) == 2 * 2 * 2 + 2  # the second grid's nqmix cells repeat the first grid's
    assert [c.seed for c in cells] == [0] * 5 + [1] * 5
    assert cells[0] == grid.Cell("nqmix", "smax:3m", 0, 100)
    assert grid.Cell("nqmix-m", "smax:2s3z", 1, 50) in cells


@pytest.mark.parametrize("spec, words", [
    ({"algos": ["qmx"], "envs": {"smax:3m": 10}, "seeds": [0]}, "Unknown algorithm 'qmx'"),
    ({"algos": ["qmix"], "envs": {"3m": 10}, "seeds": [0]}, "Unknown environment '3m'"),
    ({"algos": ["qmix"], "envs": {"smax:3m": -5}, "seeds": [0]}, "positive whole number"),
    ({"algos": ["qmix"], "seeds": [0]}, "lacks envs"),
])
def test_bad_grids_say_what_is_wrong(spec, words):
    with pytest.raises(UserError, match=words):
        grid.expand([spec])


def test_grid_file_and_env_list_errors(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("train: {updates-per-episode: 0.25}\ngrids:\n  - algos: [vdn]\n"
                    "    envs: {'matrix:qtran': 64}\n    seeds: [3]\n")
    cells, options = grid.load_grid(path)
    assert cells == [grid.Cell("vdn", "matrix:qtran", 3, 64)] and options == {"updates-per-episode": 0.25}
    path.write_text("algos: [vdn]\n")
    with pytest.raises(UserError, match="top-level 'grids:'"):
        grid.load_grid(path)
    with pytest.raises(UserError, match="NAME=STEPS"):
        grid.parse_envs(["smax:3m"])
    assert grid.parse_envs(["smax:3m=20", "matrix:qtran=8"]) == {"smax:3m": 20, "matrix:qtran": 8}


def test_train_command_passes_options_and_resumes(tmp_path):
    cell = grid.Cell("qmix", "smax:3m", 2, 1000)
    command = grid.train_command(cell, tmp_path, {"updates_per_episode": 0.25, "no-tensorboard": True,
                                                   "no-progress": False, "set": ["tau=0.01", "critic_lr=1e-3"]})
    assert command[:2] == ["nqmix", "train"]
    assert command[command.index("--out") + 1] == str(tmp_path / "smax-3m" / "qmix" / "seed2")
    assert command[command.index("--updates-per-episode") + 1] == "0.25"
    assert "--no-tensorboard" in command and "--resume" not in command
    assert " ".join(command).endswith("--set tau=0.01 --set critic_lr=1e-3")  # a list repeats its flag
    cell.folder(tmp_path).mkdir(parents=True)
    (cell.folder(tmp_path) / "checkpoint.pt").write_bytes(b"")
    assert grid.train_command(cell, tmp_path, {})[-1] == "--resume"


def _rows(folder):
    with open(folder / "progress.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_local_sweep_runs_skips_and_extends(tmp_path):
    cells = grid.expand([{"algos": ["vdn", "nqmix"], "envs": {"matrix:qtran": 64}, "seeds": [0]}])
    results = sweep.sweep(cells, tmp_path, TINY, n_jobs=2, progress=False)
    assert results == {cell: 0 for cell in cells}
    for cell in cells:
        manifest = json.loads((cell.folder(tmp_path) / "manifest.json").read_text())
        assert manifest["status"] == "finished" and manifest["seed"] == 0
        assert manifest["command"].startswith(f"nqmix train --algo {cell.algo} --env matrix:qtran")
        assert [int(r["t_env"]) for r in _rows(cell.folder(tmp_path))] == [0, 32, 64]
    assert json.loads((tmp_path / "sweep.json").read_text())["cells"][0]["algo"] == "vdn"
    # finished cells are skipped; a larger budget resumes them from their checkpoints
    assert set(sweep.sweep(cells, tmp_path, TINY, progress=False).values()) == {None}
    longer = [grid.Cell(c.algo, c.env, c.seed, 96) for c in cells]
    assert set(sweep.sweep(longer, tmp_path, TINY, progress=False).values()) == {0}
    assert "--resume" in (longer[0].folder(tmp_path) / "train.log").read_text()
    assert [int(r["t_env"]) for r in _rows(longer[0].folder(tmp_path))] == [0, 32, 64, 96]
    record = json.loads((tmp_path / "sweep.json").read_text())  # the third sweep's, the two before it kept
    assert record["cells"][0]["t_max"] == 96 and [e["cells"][0]["t_max"] for e in record["earlier"]] == [64, 64]
    assert all("earlier" not in e for e in record["earlier"])


def test_drop_checkpoints_frees_finished_runs_and_keeps_their_results(tmp_path):
    cells = grid.expand([{"algos": ["vdn"], "envs": {"matrix:qtran": 64}, "seeds": [0, 1]}])
    kept = sweep.sweep(cells[:1], tmp_path, TINY, progress=False)  # seed 0 first, its checkpoint kept
    assert kept == {cells[0]: 0} and (cells[0].folder(tmp_path) / "checkpoint.pt").exists()
    assert sweep.sweep(cells, tmp_path, TINY, progress=False, drop_checkpoints=True) == {cells[0]: None, cells[1]: 0}
    for cell in cells:  # the skipped seed 0 and the new seed 1 alike
        folder = cell.folder(tmp_path)
        assert not (folder / "checkpoint.pt").exists()
        assert json.loads((folder / "manifest.json").read_text())["status"] == "finished"
        assert [int(r["t_env"]) for r in _rows(folder)] == [0, 32, 64]
        assert "deleted by --drop-checkpoints" in (folder / "train.log").read_text()
    assert json.loads((tmp_path / "sweep.json").read_text())["drop_checkpoints"] is True
    longer = [grid.Cell(cells[0].algo, cells[0].env, 0, 96)]  # a larger budget is refused, before anything runs
    with pytest.raises(UserError, match="no checkpoint.pt"):
        sweep.sweep(longer, tmp_path, TINY, progress=False)
    assert [int(r["t_env"]) for r in _rows(cells[0].folder(tmp_path))] == [0, 32, 64]


def test_drop_checkpoint_leaves_an_unfinished_run_alone(tmp_path):
    cell = grid.Cell("vdn", "matrix:qtran", 0, 64)
    folder = cell.folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"state")
    for manifest in ({"status": "interrupted", "t_env": 32}, {"status": "finished", "t_env": 32}, "{not json", "[1]"):
        (folder / "manifest.json").write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
        assert not sweep.drop_checkpoint(cell, tmp_path) and (folder / "checkpoint.pt").exists()
    (folder / "manifest.json").write_text(json.dumps({"status": "finished", "t_env": 64}))
    assert sweep.drop_checkpoint(cell, tmp_path) and not (folder / "checkpoint.pt").exists()


@pytest.mark.slow
def test_a_failed_run_is_reported_with_its_log(tmp_path, capsys):
    folder = tmp_path / "matrix-qtran" / "vdn" / "seed0"
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")  # passes the checks; fails when loaded
    code = cli.main(["sweep", "--algos", "vdn", "--envs", "matrix:qtran=64", "--seeds", "0",
                     "--out", str(tmp_path), "--device", "cpu", "--no-progress"])
    message = capsys.readouterr().err
    assert code == 2 and "1 of 1 runs failed" in message and "train.log" in message
    log = (folder / "train.log").read_text()
    assert "nqmix: The checkpoint" in log and "could not be read" in log  # the run's own sentence, kept


def test_a_device_the_machine_lacks_is_refused_before_any_run_starts(tmp_path, capsys):
    device = "cuda:7" if not _has_cuda() else "cuda:99"
    code = cli.main(["sweep", "--algos", "vdn", "--envs", "matrix:qtran=64", "--seeds", "0",
                     "--out", str(tmp_path / "sweep"), "--device", device, "--no-progress"])
    assert code == 2 and "would fail" in capsys.readouterr().err and not (tmp_path / "sweep").exists()


def _has_cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def _processes_naming(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc (Linux)")
def test_killing_the_sweep_ends_its_runs(tmp_path):
    out = tmp_path / "killed"
    sweep_process = subprocess.Popen([sys.executable, "-m", "nqmix_core.cli", "sweep", "--algos", "vdn", "--envs",
                                      "matrix:qtran=100000000", "--seeds", "0", "--out", str(out), "--device", "cpu",
                                      "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "matrix-qtran" / "vdn" / "seed0" / "manifest.json"
    deadline = time.time() + 120
    while not (manifest.exists() and (manifest.parent / "checkpoint.pt").exists()) and time.time() < deadline:
        time.sleep(0.5)
    children = [p for p in _processes_naming(str(manifest.parent)) if p != sweep_process.pid]
    assert children, "the sweep started no run"
    sweep_process.send_signal(signal.SIGKILL)
    sweep_process.wait()
    while any(_processes_naming(str(manifest.parent))) and time.time() < deadline:
        time.sleep(0.2)
    assert not _processes_naming(str(manifest.parent))  # the run ended with the sweep
    assert json.loads(manifest.read_text())["status"] == "interrupted"


@pytest.mark.slow
def test_ray_backend_runs_the_same_grid(tmp_path):
    ray = pytest.importorskip("ray")
    cells = grid.expand([{"algos": ["vdn", "qmix"], "envs": {"matrix:qtran": 32}, "seeds": [1]}])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        results = sweep.sweep(cells, tmp_path, TINY, backend="ray", ray_address="local", progress=False)
    finally:
        ray.shutdown()
    assert results == {cell: 0 for cell in cells}
    for cell in cells:
        assert [int(r["t_env"]) for r in _rows(cell.folder(tmp_path))] == [0, 32]


def test_every_committed_grid_file_reads_and_names_known_presets():
    paths = sorted((Path(__file__).parent.parent / "data").rglob("grid.yaml"))
    assert len(paths) >= 5
    for path in paths:
        cells, _ = grid.load_grid(path)  # a typo in a preset, an env or a train option is a UserError here
        assert cells, path


@pytest.mark.parametrize("address, sentence", [
    ("127.0.0.1:1", "No Ray cluster could be reached at '127.0.0.1:1' (Connection refused)"),
    ("ray://127.0.0.1:1", "No Ray cluster could be reached at 'ray://127.0.0.1:1' (Connection refused)"),
    ("nonsense", "--ray-address 'nonsense' is not an address; write host:port"),
])
def test_a_ray_address_nothing_answers_at_is_one_sentence_not_minutes_of_retries(address, sentence):
    with pytest.raises(UserError) as error:
        sweep._check_reachable(address, timeout_s=2)
    assert str(error.value).startswith(sentence)


def test_a_ray_address_that_answers_passes_the_check():
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:  # a listening port stands in for a Ray head
        sweep._check_reachable(f"127.0.0.1:{server.getsockname()[1]}")
    sweep._check_reachable("auto")  # left to Ray
