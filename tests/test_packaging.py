"""The conda environment and the pip extras must install the same things."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs |= {r for r in extra if not r.startswith(project["name"])}  # skip "nqmix-core[...]"
    return reqs


def conda_pip_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml should have exactly one pip section"
    return {r for r in pip_sections[0] if not r.startswith("-e")}


def test_environment_yml_pip_part_matches_pyproject():
    assert conda_pip_requirements() == pyproject_requirements()


def test_environment_yml_installs_the_package_and_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_part = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_part


def test_all_extra_covers_every_other_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert extras["all"] == [f"{project['name']}[{','.join(sorted(set(extras) - {'all'}))}]"]


def test_torch_is_pinned_so_pip_cannot_pull_a_cuda_build():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [d for d in deps if d.startswith("torch")] == ["torch==2.13.0"]
