"""The benchmarks' --save: what was printed is kept, with a manifest to trace it."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from recording import recorded  # noqa: E402


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


def test_recorded_without_a_path_only_prints(tmp_path, capsys):
    with recorded(None):
        print("hello")
    assert capsys.readouterr().out == "hello\n" and list(tmp_path.iterdir()) == []
