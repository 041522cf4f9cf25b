"""The benchmarks' --save: what was printed is kept, with a manifest to trace it."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from recording import recorded, run_benchmark  # noqa: E402


def test_recorded_keeps_the_printed_text_and_writes_a_manifest(tmp_path, capsys):
    out = tmp_path / "figures" / "bench.txt"
    with recorded(str(out)):
        print("map   steps/s")
        print("3m      1,234")
    assert capsys.readouterr().out == "map   steps/s\n3m      1,234\n"  # still printed
    assert out.read_text() == "map   steps/s\n3m      1,234\n"
    manifest = json.loads((tmp_path / "figures" / "bench.txt.json").read_text())
    assert {"command", "git", "versions", "host", "wall_seconds", "load_average_before"} <= set(manifest)
    assert manifest["versions"]["torch"].startswith("2.13") and manifest["host"]["cpu_count"] >= 1
    assert manifest["status"] == "finished"


def test_a_benchmark_that_stops_early_keeps_what_it_printed_and_says_so(tmp_path, capsys):
    out = tmp_path / "bench.txt"
    with pytest.raises(KeyboardInterrupt):
        with recorded(str(out)):
            print("first half")
            raise KeyboardInterrupt
    assert out.read_text() == "first half\n[stopped before its end]\n"
    assert json.loads((tmp_path / "bench.txt.json").read_text())["status"] == "stopped before its end"


def test_a_benchmark_that_refuses_its_input_leaves_no_file_and_the_name_stays_free(tmp_path, capsys):
    out = tmp_path / "bench.txt"
    with pytest.raises(SystemExit):
        with recorded(str(out)):
            raise SystemExit(2)  # what a benchmark's one-sentence refusal does, before it prints
    assert not out.exists() and not (tmp_path / "bench.txt.json").exists()
    with recorded(str(out)):  # the corrected command may use the same name
        print("3m      1,234")
    assert out.read_text() == "3m      1,234\n"


def test_a_manifest_names_the_commit_of_the_checkout_measured(tmp_path, capsys):
    """``mutants.py`` tests copies of its own checkout, which need not be the imported package's (a second git
    worktree beside an editable install): its manifest names that checkout's commit and whether it was clean."""
    repo = tmp_path / "other"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "code.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "code.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=repo, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    with recorded(str(tmp_path / "a.txt"), checkout=repo):
        print("a")
    assert json.loads((tmp_path / "a.txt.json").read_text())["git"] == {"commit": commit, "dirty": False}
    (repo / "code.py").write_text("x = 2\n")
    with recorded(str(tmp_path / "b.txt"), checkout=repo):
        print("b")
    assert json.loads((tmp_path / "b.txt.json").read_text())["git"] == {"commit": commit, "dirty": True,
                                                                         "changed": [" M code.py"]}
    import nqmix_core
    package = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(nqmix_core.__file__).parent, capture_output=True,
                             text=True).stdout
    with recorded(str(tmp_path / "c.txt")):  # no checkout named: the imported package's
        print("c")
    assert json.loads((tmp_path / "c.txt.json").read_text())["git"]["commit"] == (package.strip() or None)


def test_recorded_without_a_path_only_prints(tmp_path, capsys):
    with recorded(None):
        print("hello")
    assert capsys.readouterr().out == "hello\n" and list(tmp_path.iterdir()) == []


def test_run_benchmark_sets_threads_before_the_manifest_is_taken(tmp_path, capsys):
    seen = {}

    def report(args):
        seen.update(vars(args), threads_now=torch.get_num_threads())
        print("row")

    threads = torch.get_num_threads()
    out = tmp_path / "b.txt"
    try:
        run_benchmark(argparse.ArgumentParser(), report, learner_options=True,
                      argv=["--threads", "1", "--set", "tau=0.01", "--set", "batch_size=8", "--save", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert seen["set"] == ["tau=0.01", "batch_size=8"] and seen["threads_now"] == 1
    assert out.read_text() == "row\n"
    assert json.loads((tmp_path / "b.txt.json").read_text())["host"]["torch_threads"] == 1  # what really ran
    bare = {}
    run_benchmark(argparse.ArgumentParser(), lambda args: bare.update(vars(args)), argv=[])
    assert bare == {"save": None}  # environment-only benchmarks take no learner options


def test_golden_deviation_measures_what_the_golden_test_tolerates():
    from golden_deviation import row_deviation, worst_tensor_deviation as tensor_deviation
    nan = float("nan")
    assert row_deviation({"a": 1.0, "b": nan}, {"a": 1.0, "b": nan}) == 0.0
    assert row_deviation({"a": 1.1, "b": 5.0}, {"a": 1.0, "b": 5.0}) == pytest.approx(0.1 / 1.001)
    assert tensor_deviation({"w": [1.0, 4.0]}, {"w": [1.0, 4.0]}) == 0.0
    assert tensor_deviation({"w": [1.2, 4.0]}, {"w": [1.0, 4.0]}) == pytest.approx(0.1)  # 0.2 over a norm of 2
    assert tensor_deviation({"w": [1.0, 4.4]}, {"w": [1.0, 4.0]}) == pytest.approx(0.1)  # 0.4 over the norm squared


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name != "recording.py"))
def test_every_benchmark_script_starts(script):
    """Each script imports what it uses and answers --help: a refactor that moves a name breaks this, not a
    reader's measurement."""
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr[-500:]


def test_save_never_replaces_a_saved_benchmark(tmp_path, capsys):
    out = tmp_path / "b.txt"
    out.write_text("an earlier measurement\n")
    ran = []
    with pytest.raises(SystemExit) as stopped:
        run_benchmark(argparse.ArgumentParser(prog="bench"), lambda args: ran.append(1), argv=["--save", str(out)])
    assert stopped.value.code == 2 and ran == []  # refused before the benchmark ran
    assert "already holds a saved benchmark; give --save a new file name" in capsys.readouterr().err
    assert out.read_text() == "an earlier measurement\n" and not (tmp_path / "b.txt.json").exists()


def test_mutants_makes_each_change_once_and_only_that_change():
    from mutants import mutants, mutated
    source = "def f(x, y):\n    return -(x + y).detach().sum(1) / 2 if x < y else x\n"
    found = mutants(source)
    changes = {m.change: mutated(source, m) for m in found}
    assert len(changes) == len(found) == 8
    body = {change: text.splitlines()[1].strip() for change, text in changes.items()}
    assert body == {
        "Div -> Mult": "return -(x + y).detach().sum(1) * 2 if x < y else x",
        "Lt -> LtE": "return -(x + y).detach().sum(1) / 2 if x <= y else x",
        "drop unary minus": "return (x + y).detach().sum(1) / 2 if x < y else x",
        "Add -> Sub": "return -(x - y).detach().sum(1) / 2 if x < y else x",
        "1 -> 2": "return -(x + y).detach().sum(2) / 2 if x < y else x",
        "2 -> 3": "return -(x + y).detach().sum(1) / 3 if x < y else x",
        ".sum -> .mean": "return -(x + y).detach().mean(1) / 2 if x < y else x",
        "drop .detach()": "return -(x + y).sum(1) / 2 if x < y else x",
    }


def test_mutants_refuses_a_file_outside_the_package_in_one_sentence(tmp_path):
    save = tmp_path / "mutants.txt"
    result = subprocess.run([sys.executable, str(BENCHMARKS / "mutants.py"), "tests/helpers.py", "--save", str(save)],
                            capture_output=True, text=True, cwd=BENCHMARKS.parent, timeout=300)
    assert result.returncode == 2 and result.stderr.strip().endswith("give a file of the package.")
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing saved, so the corrected command can use the same name


def test_mutants_takes_single_tests_and_names_a_missing_test_file_in_one_sentence(capsys):
    from mutants import checked
    single = argparse.Namespace(module="nqmix_core/runner.py", jobs=1, timeout=600,
                                tests=["tests/test_rollout.py::test_one_rollout_written_out"])
    assert checked(single) == "nqmix_core/runner.py"
    with pytest.raises(SystemExit) as stop:
        checked(argparse.Namespace(module="nqmix_core/runner.py", tests=["tests/test_nothing.py::test_x"], jobs=1,
                                   timeout=600))
    assert stop.value.code == 2
    assert "no test file tests/test_nothing.py under" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        checked(argparse.Namespace(module="nqmix_core/runner.py", tests=[], jobs=1, timeout=0))
    assert capsys.readouterr().err == "mutants.py: --timeout must be a number of seconds above 0.\n"


def test_a_mutant_that_makes_the_tests_hang_counts_as_caught_and_the_check_goes_on(tmp_path):
    import mutants
    source = "def f(n):\n    while n < 2:\n        n = n + 1\n    return n\n"
    (tmp_path / "pkg.py").write_text(source)
    (tmp_path / "test_pkg.py").write_text("from pkg import f\n\n\ndef test_f():\n    assert f(0) == 2\n")
    found = {m.change: m for m in mutants.mutants(source)}
    assert mutants.killed(tmp_path, "pkg.py", source, found["Add -> Sub"], ["test_pkg.py"], timeout=5)  # never ends
    assert mutants.killed(tmp_path, "pkg.py", source, found["Lt -> LtE"], ["test_pkg.py"], timeout=60)  # f(0) = 3
    assert not mutants.killed(tmp_path, "pkg.py", source, found["1 -> 2"], ["test_pkg.py"], timeout=60)  # still 2
    assert (tmp_path / "pkg.py").read_text() == source  # put back after each
