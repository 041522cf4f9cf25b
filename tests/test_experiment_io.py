"""A run folder's files, piece by piece and without training: the atomic write and its message, the JSON and CSV
files, the checks before a run writes, the lock, the checkpoint's checks, the host and code version, and what
``restore_run`` compares. ``tests/test_experiment.py`` runs the same pieces end to end."""
from __future__ import annotations

import json
import platform
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from nqmix_core import experiment, experiment_io
from nqmix_core.config import RunConfig
from nqmix_core.errors import UserError
from nqmix_core.registry import algo_config
from nqmix_core.train import build_run

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_a_failed_write_names_the_free_space_in_gib_and_leaves_nothing_behind(tmp_path, monkeypatch):
    path = tmp_path / "progress.csv"
    path.write_text("before\n")
    monkeypatch.setattr(experiment_io.shutil, "disk_usage", lambda folder: SimpleNamespace(free=3 * 2**30 // 2))

    def fails(temp: Path) -> None:
        temp.write_text("half")
        raise OSError(28, "No space left on device")
    with pytest.raises(UserError) as caught:
        experiment_io._atomic_write(path, fails)
    assert str(caught.value) == (f"{path} could not be written ([Errno 28] No space left on device; 1.5 GiB free on "
                                 f"its disk); the previous version is intact: free space, then rerun with --resume.")
    assert path.read_text() == "before\n" and sorted(p.name for p in tmp_path.iterdir()) == ["progress.csv"]


def test_the_temporary_file_sits_beside_the_file_it_replaces(tmp_path):
    seen = []
    experiment_io._atomic_write(tmp_path / "a.json", lambda temp: (seen.append(temp), temp.write_text("x")))
    assert seen == [tmp_path / "a.json.tmp"] and (tmp_path / "a.json").read_text() == "x"


def test_json_and_csv_files_byte_for_byte(tmp_path):
    experiment_io.write_json(tmp_path / "m.json", {"status": "running", "t_env": 3})
    assert (tmp_path / "m.json").read_text() == '{\n  "status": "running",\n  "t_env": 3\n}\n'
    experiment_io.write_csv(tmp_path / "p.csv", [{"t_env": 0, "a": 1}, {"t_env": 5, "b": 2.5}])
    assert (tmp_path / "p.csv").read_text() == "t_env,a,b\n0,1,\n5,,2.5\n"  # every key, in order of first sight


@pytest.mark.parametrize("files, resume, message", [
    ((), True, "There is no checkpoint to resume in {out}; start without --resume."),
    (("progress.csv", "manifest.json"), True, "{out} holds manifest.json, progress.csv but no checkpoint.pt"),
    (("progress.csv",), False, "{out} already holds a run (progress.csv); pass --resume"),
    (("checkpoint.pt",), False, "{out} already holds a run (checkpoint.pt); pass --resume"),
])
def test_a_run_folder_is_written_only_fresh_or_to_resume(tmp_path, files, resume, message):
    for name in files:
        (tmp_path / name).write_text("")
    with pytest.raises(UserError) as caught:
        experiment_io.check_run_folder(tmp_path, resume)
    assert str(caught.value).startswith(message.format(out=tmp_path))


def test_a_fresh_folder_and_a_checkpoint_to_resume_pass(tmp_path):
    experiment_io.check_run_folder(tmp_path / "new", resume=False)
    (tmp_path / "other.txt").write_text("")  # files that are not a run's do not count
    experiment_io.check_run_folder(tmp_path, resume=False)
    (tmp_path / "checkpoint.pt").write_text("")
    experiment_io.check_run_folder(tmp_path, resume=True)


def test_check_fresh_names_the_files_it_would_replace(tmp_path):
    experiment_io.check_fresh(tmp_path, ("a.csv", "b.csv"), "nqmix demo")
    (tmp_path / "b.csv").write_text("")
    with pytest.raises(UserError, match=r"already holds the results of an earlier `nqmix demo` \(b\.csv\)"):
        experiment_io.check_fresh(tmp_path, ("a.csv", "b.csv"), "nqmix demo")


def test_the_lock_refuses_a_second_holder_and_is_removed_at_the_end(tmp_path):
    pytest.importorskip("fcntl")
    with experiment_io.RunLock(tmp_path):
        assert (tmp_path / "run.lock").exists()
        with pytest.raises(UserError, match=f"Another process is training in {tmp_path} right now"):
            experiment_io.RunLock(tmp_path).__enter__()
    assert not (tmp_path / "run.lock").exists()
    with experiment_io.RunLock(tmp_path):  # free again
        pass


REQUIRED = ("format", "run_config", "algo_config", "env_info", "learner", "buffer", "counters", "rng")


def test_a_checkpoint_needs_exactly_its_keys_and_no_more(tmp_path):
    state = {key: 0 for key in REQUIRED} | {"format": 1}
    torch.save(state, tmp_path / "checkpoint.pt")
    assert experiment_io.load_checkpoint(tmp_path / "checkpoint.pt") == state
    torch.save({key: 0 for key in REQUIRED[1:]}, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError, match="is not a checkpoint written by `nqmix train`"):
        experiment_io.load_checkpoint(tmp_path / "checkpoint.pt")


def test_a_checkpoint_in_another_format_is_refused_in_one_sentence(tmp_path):
    torch.save({key: 0 for key in REQUIRED} | {"format": 2}, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError) as caught:
        experiment_io.load_checkpoint(tmp_path / "checkpoint.pt")
    assert str(caught.value) == (f"The checkpoint {tmp_path / 'checkpoint.pt'} is in format 2, and this version of the "
                                 f"kit reads format 1; resume it with the version that wrote it, or choose another --out.")


def test_an_unreadable_checkpoint_gives_the_first_line_of_the_reason(tmp_path):
    (tmp_path / "checkpoint.pt").write_text("not a zip\nsecond line")
    with pytest.raises(UserError) as caught:
        experiment_io.load_checkpoint(tmp_path / "checkpoint.pt")
    message = str(caught.value)
    assert message.startswith(f"The checkpoint {tmp_path / 'checkpoint.pt'} could not be read (") and "\n" not in message


def test_the_host_names_the_cpu_model_and_falls_back_to_the_platforms_name(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC 7B13\n")
    host = experiment_io._host(str(cpuinfo))
    assert host["cpu"] == "AMD EPYC 7B13" and host["torch_threads"] == torch.get_num_threads()
    fallback = platform.processor() or platform.machine()
    cpuinfo.write_text("processor\t: 0\nHardware\t: some board\n")  # no "model name" line (some ARM kernels)
    assert experiment_io._host(str(cpuinfo))["cpu"] == fallback
    assert experiment_io._host(str(tmp_path / "missing"))["cpu"] == fallback


def test_a_folder_outside_git_has_no_commit(tmp_path):
    assert experiment_io._git_commit(tmp_path) == {"commit": None, "dirty": None}


def test_the_environments_own_random_state_goes_back(tmp_path):
    class Keyed:
        key = [1, 2]

        def rng_state(self):
            return list(self.key)

        def set_rng_state(self, key):
            self.key = list(key)
    env = Keyed()
    saved = experiment_io.capture_env_rng(env)
    env.key = [9, 9]
    experiment_io.restore_env_rng(env, saved)
    assert env.key == [1, 2]
    assert experiment_io.capture_env_rng(object()) is None
    experiment_io.restore_env_rng(object(), None)  # an environment without its own stream: nothing to put back


# --- what restore_run compares -----------------------------------------------------------------------------------

def small_run(**overrides):
    settings = dict(algo="qmix", env="matrix:qtran", t_max=8, test_interval=8, test_episodes=2, device="cpu",
                    progress=False, tensorboard=False)
    config = RunConfig(**{**settings, **overrides})
    return build_run(config, algo_config("qmix", batch_size=2, buffer_size=4), torch.device("cpu"))


def refusal(run, state) -> str:
    with pytest.raises(UserError) as caught:
        experiment_io.restore_run(run, state, Path("checkpoint.pt"))
    return str(caught.value)


def test_a_checkpoint_resumes_where_only_resumable_fields_differ():
    state = experiment_io.run_state(small_run(), 1.5)
    assert state["format"] == experiment_io.CHECKPOINT_FORMAT == 1
    run = small_run(t_max=16, checkpoint_interval=4)
    experiment_io.restore_run(run, state, Path("checkpoint.pt"))
    assert run.wall_offset == 1.5


def test_a_checkpoint_from_before_reward_scale_meant_a_scale_of_one():
    state = experiment_io.run_state(small_run(), 0.0)
    del state["run_config"]["reward_scale"]
    experiment_io.restore_run(small_run(), state, Path("checkpoint.pt"))  # matrix games: scale 1
    assert "(reward_scale)" in refusal(small_run(reward_scale=10.0), state)


def test_a_checkpoint_names_every_setting_that_differs():
    state = experiment_io.run_state(small_run(), 0.0)
    state["run_config"]["seed"] = 7
    state["algo_config"]["gamma"] = 0.5
    state["env_info"]["n_actions"] += 1
    state["device"] = "cuda:0"
    assert refusal(small_run(), state).startswith(
        "The checkpoint checkpoint.pt was written by a run with other settings (seed, gamma, environment sizes, "
        "device (cuda:0)); resume with the same settings")


# --- experiment.py's hooks and manifest ----------------------------------------------------------------------------

class Writer:
    def __init__(self, folder=None, purge_step=None):
        self.scalars, self.purge_step, self.closed = [], purge_step, False

    def add_scalar(self, key, value, global_step):
        self.scalars.append((key, value, global_step))

    def close(self):
        self.closed = True


def test_a_row_goes_to_both_csvs_and_tensorboard_without_its_step(tmp_path):
    run, writer = small_run(), Writer()
    hooks = experiment.FileHooks(tmp_path, writer, SimpleNamespace(set_postfix=lambda **_: None), lambda: 2.0004)
    row = {"t_env": 40, "test_greedy_win_rate": 0.5, "note": "text"}
    run.rows.append(row)
    hooks.on_row(run, row)
    assert writer.scalars == [("test_greedy_win_rate", 0.5, 40), ("wall_seconds", 2.0004, 40)]
    assert (tmp_path / "timing.csv").read_text() == "t_env,wall_seconds\n40,2.0\n"
    assert (tmp_path / "progress.csv").read_text() == "t_env,test_greedy_win_rate,note\n40,0.5,text\n"


def test_a_resumed_run_drops_tensorboard_events_after_its_checkpoint_and_adds_up_its_wall_time(tmp_path, monkeypatch):
    config = dict(t_max=16, checkpoint_interval=8, tensorboard=True)
    algo = algo_config("qmix", batch_size=2, buffer_size=4)
    experiment.train_run(small_run(**config).config, tmp_path, algo=algo)
    writers = []
    monkeypatch.setattr(experiment, "tensorboard_writer",
                        lambda folder, enabled, purge_step: writers.append(Writer(folder, purge_step)) or writers[-1])
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    state["wall_seconds"] = 1000.0  # the earlier segments' time
    torch.save(state, tmp_path / "checkpoint.pt")
    experiment.train_run(small_run(**{**config, "t_max": 32}).config, tmp_path, resume=True, algo=algo)
    assert writers[0].purge_step == state["counters"]["t_env"] + 1 and writers[0].closed
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["resumed_at_t_env"] == state["counters"]["t_env"] and manifest["status"] == "finished"
    assert 0 < manifest["wall_seconds"] < 1000 < manifest["wall_seconds_all_segments"] < 1000 + 2 * manifest["wall_seconds"] + 1
