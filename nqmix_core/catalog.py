"""What the kit knows about its learners and environment backends, as tables (facts, not defaults).

Configuration checks, the CLI's help, the sweep and the error messages read these facts. A learner's own
facts (``LearnerKind``) sit on its config class, in its module beside the learner (``learners/``), and
``registry.LEARNERS`` lists the learners: adding a learner is its module and one line there; adding an
algorithm that reuses a learner and a mixer is one preset in that learner's module.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LearnerKind:
    """Facts about one learner, held by its config class (``AlgoConfig.kind``)."""

    name: str
    """Its name, the value of ``AlgoConfig.learner`` in its configs and manifests."""
    summary: str
    on_policy: bool
    """Trains on the episodes just collected (its replay holds exactly one rollout), not on replay."""
    continuous: bool
    """Acts in continuous action spaces (``EnvInfo.continuous``) rather than discrete ones."""
    mixers: tuple[str, ...]
    """The mixers (``AlgoConfig.mixer``) it trains with; "none" = no mixer (independent critics, or COMA's
    critic, which is not a mixer)."""


MIXER_NAMES = ("vdn", "qmix", "qmix-no-abs", "nqmix", "none")
"""Every mixer ``networks.mixers.MIXERS`` can build (a test checks that the two agree)."""
MIXING = ("vdn", "qmix", "qmix-no-abs", "nqmix")
"""The mixers that mix (every name but "none")."""


@dataclass(frozen=True)
class EnvBackend:
    """Facts about one environment backend (the part of an env name before ':')."""

    summary: str
    continuous: bool
    tasks: tuple[str, ...]
    """The task names it knows, or () when the task is a map name (``smax:<map>``)."""
    example: str
    reward_scale: float = 1.0
    """``RunConfig.reward_scale`` when a run does not set it. SMAX's 10 was decided by the rule of
    ``nqmix_core/reward_check.py`` on ``data/reward_scale`` (SMAX pays at most 2 per episode, SMAC 20)."""


ENV_BACKENDS: dict[str, EnvBackend] = {
    "matrix": EnvBackend("one- and two-step matrix games", False, ("qtran", "two-step"), "matrix:qtran"),
    "continuous": EnvBackend("the two-peak game with continuous actions", True, ("two-peak",), "continuous:two-peak"),
    "smax": EnvBackend("JaxMARL's SMAX, the embedded default", False, (), "smax:3m", reward_scale=10.0),
    "smax-cont": EnvBackend("SMAX with continuous actions", True, (), "smax-cont:3m", reward_scale=10.0),
    "smac": EnvBackend("StarCraft II through oxwhirl's SMAC (optional)", False, (), "smac:3m"),
}


def default_reward_scale(env: str) -> float:
    """The reward scale a run on ``env`` ("backend:task") uses unless it sets one (1 for unknown backends)."""
    backend = ENV_BACKENDS.get(str(env).partition(":")[0])
    return backend.reward_scale if backend is not None else 1.0


def env_names_text() -> str:
    """"matrix:qtran, matrix:two-step, continuous:two-peak, smax:<map> (e.g. smax:3m), ..." for messages."""
    parts = []
    for name, backend in ENV_BACKENDS.items():
        parts += [f"{name}:{t}" for t in backend.tasks] or [f"{name}:<map> (e.g. {backend.example})"]
    return ", ".join(parts)
