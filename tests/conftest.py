"""Fixtures shared by the test modules."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test with one torch thread (tiny networks: a second thread only adds overhead, and on 2 shared
    cores a lot of it), then restore the caller's setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def smax_env():
    """Eight copies of SMAX 3m, built (and compiled) once per test module that asks for them."""
    pytest.importorskip("jaxmarl")
    from nqmix_core.envs.smax import SMAXEnv
    env = SMAXEnv("3m", n_envs=8, seed=0)
    yield env
    env.close()
