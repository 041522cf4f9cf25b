"""The allowed values of every configuration field, as tables with one rule per field.

A rule is ``(allowed, phrase)``: ``allowed(value)`` says whether a value is fine and ``phrase`` ends
the sentence "NAME=VALUE must ...". The value's kind comes first: a field whose default is a bool
takes only True or False, an int field a whole number, a float field a finite number, a str field a
string. ``check_fields`` collects every broken rule of a config into one ``UserError``, e.g.

    Invalid algorithm setting: critic_lr=-1.0 must be > 0; change it (QLearningConfig and the classes it
    builds on, in nqmix_core/learners/q_learning.py and nqmix_core/config.py, document each field).

``config.py`` (and each learner's config class, for the learner's own fields, whose rules it carries in
``rules``) holds the fields and their defaults; this module only says which values they accept.
"""
from __future__ import annotations

import math
from dataclasses import fields
from numbers import Integral, Real
from typing import Callable

from nqmix_core.catalog import MIXER_NAMES
from nqmix_core.errors import UserError

Rule = tuple[Callable[[object], bool], str]

POSITIVE: Rule = (lambda v: v > 0, "must be > 0")
NON_NEGATIVE: Rule = (lambda v: v >= 0, "must be >= 0")
AT_LEAST_ONE: Rule = (lambda v: v >= 1, "must be at least 1")
PROBABILITY: Rule = (lambda v: 0 <= v <= 1, "must be in [0, 1]")
ANY: Rule = (lambda v: True, "")  # the kind check is all there is (bools)


def one_of(*choices: str) -> Rule:
    """A rule for a name that must be one of ``choices``."""
    return (lambda v: v in choices, "must be one of " + ", ".join(choices))


ALGO_RULES: dict[str, Rule] = {
    "mixer": one_of(*MIXER_NAMES),
    "gamma": PROBABILITY,
    "critic_lr": POSITIVE,
    "actor_lr": POSITIVE,
    "rms_alpha": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "rms_eps": POSITIVE,
    "grad_norm_clip": POSITIVE,
    "batch_size": AT_LEAST_ONE,
    "buffer_size": AT_LEAST_ONE,
    "rnn_hidden_dim": AT_LEAST_ONE,
    "actor_hidden_dim": AT_LEAST_ONE,
    "mixer_embed_dim": AT_LEAST_ONE,
    "hypernet_hidden_dim": AT_LEAST_ONE,
    "target_update": one_of("soft", "hard"),
    "tau": (lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "tau_per_time_step": ANY,
    "target_update_interval": AT_LEAST_ONE,
    "epsilon_start": PROBABILITY,
    "epsilon_finish": PROBABILITY,
    "epsilon_anneal_steps": NON_NEGATIVE,
}
"""AlgoConfig field -> rule (a learner's config class adds rules for its own fields, ``AlgoConfig.rules``;
``learner`` is checked against the class's ``kind``). A rule for a field a config class lacks is not read."""

RUN_RULES: dict[str, Rule] = {
    "algo": (lambda v: v.strip() != "", "must name an algorithm, e.g. nqmix or qmix"),
    "env": (lambda v: v.partition(":")[0] != "" and v.partition(":")[2] != "",
            "must be backend:task, e.g. smax:3m or matrix:qtran"),
    "seed": NON_NEGATIVE,
    "reward_scale": POSITIVE,
    "t_max": AT_LEAST_ONE,
    "device": (lambda v: v.strip() != "", "must be auto, cpu, cuda or cuda:N"),
    "n_envs": AT_LEAST_ONE,
    "updates_per_episode": POSITIVE,
    "overlap_collection": ANY,
    "test_interval": AT_LEAST_ONE,
    "test_episodes": AT_LEAST_ONE,
    "checkpoint_interval": AT_LEAST_ONE,
    "tensorboard": ANY,
    "progress": ANY,
}
"""RunConfig field -> rule (``registry.algo_config`` checks that ``algo`` names a preset)."""

FIELD_KINDS = {"reward_scale": float}
"""The kind of a field whose default is None (resolved at construction), by name."""

KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string"}


def has_kind(value: object, kind: type) -> bool:
    """Whether ``value`` can stand for a field whose default is of type ``kind`` (an int for a float too)."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is int:
        return isinstance(value, Integral)
    if kind is float:
        return isinstance(value, Real) and math.isfinite(value)
    return isinstance(value, kind)


def field_problems(config: object, rules: dict[str, Rule]) -> list[str]:
    """"NAME=VALUE must ..." for every field of the dataclass ``config`` that breaks its rule."""
    problems = []
    for field in fields(config):
        value, kind = getattr(config, field.name), FIELD_KINDS.get(field.name, type(field.default))
        allowed, phrase = rules.get(field.name, ANY)
        if not has_kind(value, kind):
            problems.append(f"{field.name}={value!r} must be {KIND_WORDS.get(kind, kind.__name__)}")
        elif not allowed(value):
            problems.append(f"{field.name}={value!r} {phrase}")
    return problems


def algo_problems(config) -> list[str]:
    """Every broken rule of an AlgoConfig, including the rules that tie two fields together and the facts of
    its learner (``kind``, on the config's class)."""
    kind = type(config).kind
    if kind is None:
        return ["AlgoConfig is the part every learner shares; take a learner's config, e.g. "
                "registry.algo_config('nqmix')"]
    rules = {**ALGO_RULES, **type(config).rules}
    problems = field_problems(config, rules)
    if problems:
        return problems
    if config.learner != kind.name:
        return [f"learner={config.learner!r} must be {kind.name!r} in {type(config).__name__} (the learner comes "
                f"with the algorithm: choose another --algo instead)"]
    if config.buffer_size < config.batch_size:
        problems.append(f"buffer_size={config.buffer_size} must be at least batch_size ({config.batch_size})")
    problems += config.own_problems()
    if config.mixer not in kind.mixers:
        problems.append(f"mixer={config.mixer!r} does not work with the learner {kind.name!r}, which trains with "
                        f"{', '.join(kind.mixers)}")
    return problems


def _field_modules(cls: type) -> list[str]:
    """The files that define ``cls`` and the classes it builds on, ``cls``'s own first."""
    classes = [c for c in cls.__mro__ if c.__module__ != "builtins"]
    return list(dict.fromkeys(c.__module__.replace(".", "/") + ".py" for c in classes))


def documented_in(cls: type) -> str:
    """Where the fields of the config class ``cls`` are documented, e.g. "RunConfig in nqmix_core/config.py"."""
    modules = _field_modules(cls)
    if len(modules) == 1:
        return f"{cls.__name__} in {modules[0]}"
    return f"{cls.__name__} and the classes it builds on, in {' and '.join(modules)}"


def raise_if_any(problems: list[str], what: str, cls: type) -> None:
    """One UserError sentence that lists ``problems`` of a ``what`` ("algorithm") config of class ``cls``, if any."""
    if problems:
        plural = "s" if len(problems) > 1 else ""
        them = "them" if problems[1:] else "it"
        several = len(_field_modules(cls)) > 1
        raise UserError(f"Invalid {what} setting{plural}: {', '.join(problems)}; change {them} "
                        f"({documented_in(cls)}{', document' if several else ' documents'} each field).")
