"""The command line: the demo runs end to end; bad input gives one sentence and exit code 2."""
import subprocess
import sys

import pytest

from nqmix_core.cli import main


def test_demo_prints_tables_and_writes_the_figure(tmp_path, capsys):
    assert main(["demo", "--seeds", "1", "--updates", "5", "--smax-steps", "0", "--device", "cpu",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "NQMIX (seed 0): greedy joint action" in out and "success" in out
    assert (tmp_path / "matrix_game_q_tot.png").stat().st_size > 10_000
    from nqmix_core.demo import MATRIX_FILES  # the files a second demo refuses to replace: exactly those written
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(MATRIX_FILES)
    import csv, json
    runs = list(csv.DictReader(open(tmp_path / "matrix_runs.csv")))
    assert len(runs) == 5 and {"q_tot_AA", "joint_action", "success"} <= set(runs[0])
    manifest = json.loads((tmp_path / "matrix_manifest.json").read_text())
    assert manifest["command"].startswith("nqmix demo") and manifest["versions"]["torch"].startswith("2.13")


def test_demo_until_fitted_records_each_runs_updates(tmp_path):
    import csv
    assert main(["demo", "--seeds", "1", "--updates", "200", "--until-fitted", "--smax-steps", "0", "--device", "cpu",
                 "--out", str(tmp_path)]) == 0
    runs = list(csv.DictReader(open(tmp_path / "matrix_runs.csv")))
    # 200 updates are below train_until_fitted's minimum of 500: every run stops at the cap, not converged
    assert {(r["updates"], r["converged"]) for r in runs} == {("200", "0")}


@pytest.mark.parametrize("args, message", [
    (["demo", "--payoff", "1,2;3"], "not square"),
    (["demo", "--payoff", "a,b;c,d"], "Could not read the payoff"),
    (["demo", "--seeds", "0"], "at least 1"),
    (["demo", "--smax-steps", "-1"], "at least 0"),
    (["demo", "--device", "tpu9"], "Unknown device"),
])
def test_bad_input_is_one_sentence_and_exit_code_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err


@pytest.mark.parametrize("args, sentence", [
    (["train", "--bogus"], "nqmix: train: unrecognized arguments: --bogus; see `nqmix train --help`."),
    (["sweep", "--jobs", "x"], "nqmix: sweep: argument --jobs: invalid int value: 'x'; see `nqmix sweep --help`."),
    (["bogus"], "nqmix: argument command: invalid choice: 'bogus'"),
    ([], "nqmix: Give a command: demo, train, settings, sweep, plot, reference, student-edition, slides; `nqmix --help`"),
])
def test_an_option_mistake_names_the_command_once_and_points_to_its_help(args, sentence, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(sentence) and err.count("nqmix:") == 1 and err.count("\n") == 0


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "nqmix_core.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "demo" in result.stdout


@pytest.mark.parametrize("algo", ["coma", "nqmix-cont", "qmix", "ippo"])
def test_settings_lists_every_field_once_with_the_presets_value_the_learners_own_first(algo, capsys):
    from dataclasses import fields

    from nqmix_core.registry import algo_config

    assert main(["settings", algo]) == 0
    out = capsys.readouterr().out
    preset = algo_config(algo)
    listed = [line.split(" = ")[0].strip() for line in out.splitlines() if line.startswith("  ") and line[2] != " "]
    assert sorted(listed) == sorted(f.name for f in fields(preset))  # every field, each once
    for name in listed:
        assert f"  {name} = {getattr(preset, name)!r}" in out
    assert out.index(f"{type(preset).__name__} (") < out.index("AlgoConfig (nqmix_core/config.py)")


def test_settings_of_an_unknown_algorithm_is_one_sentence(capsys):
    assert main(["settings", "qmixx"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Unknown algorithm 'qmixx'" in err
