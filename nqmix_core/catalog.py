"""What the kit knows about its learners and environment backends, as tables (facts, not defaults).

Configuration checks, the CLI's help, the sweep and the error messages read these facts here;
``registry.py`` maps the same names to classes and constructors, and ``networks/mixers.py`` holds the
mixer table (which learners each mixer trains with). A test checks that the tables agree.

Adding an algorithm that reuses a learner and a mixer is one row of ``config.PRESETS``; a new learner
is one row here, one in ``registry.LEARNER_CLASSES`` and its module.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LearnerKind:
    """Facts about one learner (``AlgoConfig.learner``)."""

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

LEARNER_KINDS: dict[str, LearnerKind] = {
    "actor-critic": LearnerKind("NQMIX (Alg. 1): mixed critic, per-agent actors, sign trick (Eq. 13)", False, False,
                                MIXING),
    "q-learning": LearnerKind("Q-learning through a mixer (QMIX, VDN) or per agent (IQL), ε-greedy", False, False,
                              (*MIXING, "none")),
    "coma": LearnerKind("COMA: centralised critic, counterfactual baseline (Eqs. 5-6)", True, False, ("none",)),
    "continuous-actor-critic": LearnerKind("NQMIX for continuous actions (Alg. 2, Eq. 14), deterministic actors",
                                           False, True, (*MIXING, "none")),
}


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
