"""The notebooks' checked outputs must not depend on floating-point rounding.

nbval (``--nbval-lax``) compares the cells marked ``# NBVAL_CHECK_OUTPUT`` with their committed outputs.
On another CPU those outputs must come out the same; training is chaotic, so a checked cell that prints
a training run's numbers breaks there (notebook 06 did: AMD EPYC vs Intel Xeon, second decimal). This
test re-runs nbval on every notebook, in a subprocess whose settings change how torch and XLA round on
this very machine, so such a cell fails here rather than on someone else's computer.

Settings, measured on an AMD EPYC with AVX-512 (torch 2.13 CPU wheel with MKL, jaxlib 0.10.2): each
of these changed the weights after a short training run bit for bit (two-peak game, QTRAN matrix game,
an NQMIX update on SMAX 3m):

* ``ATEN_CPU_CAPABILITY=default``: torch's element-wise kernels and reductions without SIMD;
* ``MKL_CBWR=COMPATIBLE``: MKL's matrix products on its generic code path;
* ``XLA_FLAGS=--xla_cpu_max_isa=SSE4_2``: the SMAX simulator compiled for SSE4.2 only (its
  observations change in the last bits).

No effect was measured from ``torch.set_num_threads(2)`` (tensors this small are not split), ``ATEN_CPU_CAPABILITY=avx2``
on the one-step games, ``MKL_ENABLE_INSTRUCTIONS=AVX2``, ``ONEDNN_MAX_CPU_ISA=AVX2``,
``XLA_FLAGS=--xla_cpu_enable_fast_math=false``, ``XLA_FLAGS=--xla_cpu_max_isa=AVX2`` or ``OPENBLAS_CORETYPE``.
An XLA flag that the installed jaxlib rejects is left out (XLA would abort the kernel).

One perturbed nbval run per notebook: about 3 minutes for all six on a 2-core CPU.
``$NQMIX_PORTABILITY_NOTEBOOKS`` points the test at another folder of notebooks (to check that it
catches a notebook whose checked cells print training results).
"""
from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = Path(os.environ.get("NQMIX_PORTABILITY_NOTEBOOKS", ROOT / "notebooks"))
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("0*.ipynb"))
TORCH_ROUNDING = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}
XLA_ROUNDING = "--xla_cpu_max_isa=SSE4_2"
TIMEOUT = 1200  # seconds per notebook; they take 10-90 s here

pytestmark = pytest.mark.slow


@cache
def rounding_settings() -> dict[str, str]:
    """The environment variables that change rounding, with the XLA flag only where jaxlib accepts it."""
    settings = dict(TORCH_ROUNDING)
    xla_flags = f"{os.environ.get('XLA_FLAGS', '')} {XLA_ROUNDING}".strip()
    probe = subprocess.run([sys.executable, "-c", "import jax.numpy as jnp; jnp.ones(3).sum().block_until_ready()"],
                           env={**os.environ, "XLA_FLAGS": xla_flags}, capture_output=True, timeout=300)
    if probe.returncode == 0:
        settings["XLA_FLAGS"] = xla_flags
    return settings


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 6, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_checked_outputs_do_not_depend_on_rounding(notebook: Path):
    env = {**os.environ, **rounding_settings(),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:xdist",
               "--nbval-lax", "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
               "-q", "--tb=short", "--color=no", str(notebook)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    changed = {key: env[key] for key in rounding_settings()}
    assert result.returncode == 0, (
        f"{notebook.name}: a checked output changed under {changed} (or a cell failed). A cell marked "
        f"# NBVAL_CHECK_OUTPUT must print only rounding-free results; put training numbers in a cell marked "
        f"# NBVAL_IGNORE_OUTPUT and check them with asserts.\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
