"""``nqmix train``'s command line: one option per ``RunConfig`` field, read and checked in one place.

``cli.py`` builds the ``train`` command from ``add_train_options``; ``sweep.py`` checks every cell's
command with ``check_train_argv`` before any run starts, so a sweep file's mistake costs one sentence
instead of a crashed grid. Numbers are read by ``config.read_value`` everywhere (``--t-max 1e5`` and
``--set batch_size=5e3`` are whole numbers alike).
"""
from __future__ import annotations

import argparse
import shlex
from dataclasses import fields

from nqmix_core.catalog import env_names_text
from nqmix_core.config_checks import FIELD_KINDS
from nqmix_core.config import KIND_WORDS, AlgoConfig, RunConfig, field_docs, read_value
from nqmix_core.registry import PRESETS, algo_config, renamed_to, setting_note
from nqmix_core.errors import UserError, did_you_mean

SWEEP_SETS = ("algo", "env", "seed", "t_max", "out", "resume", "progress")
"""Options the sweep writes itself for every cell; a grid file's ``train:`` may not give them."""
EXTRA_OPTIONS = ("set", "threads")
"""``nqmix train`` options that are not RunConfig fields."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose mistakes are a ``UserError`` (one sentence, exit 2), not a usage block."""

    def error(self, message: str):
        command = self.prog.removeprefix("nqmix").strip()  # the CLI's own "nqmix: " prefixes every error
        raise UserError(f"{command + ': ' if command else ''}{message}; see `{self.prog} --help`.")

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but an option a sub-command does not know is reported by that sub-command, so the
        sentence points to its own ``--help``."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            command = getattr(parsed, "command", None)
            parser = self.sub_parsers().get(command, self) if command else self
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed

    def sub_parsers(self) -> dict[str, argparse.ArgumentParser]:
        """Sub-command name -> its parser (empty for a parser without sub-commands)."""
        actions = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        return dict(actions[0].choices) if actions else {}


def value_reader(kind: type):
    """The argparse ``type`` of a config field of ``kind`` (``config.read_value``)."""
    def read(text: str):
        try:
            return read_value(text, kind)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {KIND_WORDS[kind]}") from None
    read.__name__ = kind.__name__
    return read


def add_run_options(parser: argparse.ArgumentParser, helps: dict[str, str]) -> None:
    """One option per RunConfig field, its default and help taken from config.py (the one place they live).

    A field ``n_envs`` becomes ``--n-envs``; a bool field that defaults to True (``tensorboard``) becomes
    ``--no-tensorboard``, one that defaults to False (``overlap_collection``) ``--overlap-collection``.
    """
    docs = field_docs(RunConfig)
    for field in fields(RunConfig):
        default, name = field.default, field.name.replace("_", "-")
        text = helps.get(field.name, docs.get(field.name, "")).replace("%", "%%")
        if isinstance(default, bool):
            flag = f"--no-{name}" if default else f"--{name}"
            parser.add_argument(flag, dest=field.name, action="store_false" if default else "store_true",
                                help=f"turn off: {text}" if default else text)
        elif field.default is None:  # resolved from the environment (reward_scale)
            parser.add_argument(f"--{name}", dest=field.name, type=value_reader(FIELD_KINDS[field.name]),
                                default=None, help=f"{text} (default: the environment backend's)")
        else:
            parser.add_argument(f"--{name}", dest=field.name, type=value_reader(type(default)), default=default,
                                help=f"{text} (default {default})")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Every option of ``nqmix train``."""
    add_run_options(parser, {"algo": "one of " + ", ".join(PRESETS) + " (registry.PRESETS)",
                             "env": "one of " + env_names_text() + " (catalog.ENV_BACKENDS)"})
    parser.add_argument("--out", default=None, help="output folder (default results/<algo>_<env>_seed<seed>)")
    parser.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --out")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="replace one algorithm setting of the preset (a field of its config class: `nqmix "
                             "settings ALGO` lists them), e.g. --set critic_lr=1e-3 --set tau=0.005; repeatable")
    parser.add_argument("--threads", type=value_reader(int), default=1,
                        help="torch CPU threads (default 1: the networks are small, and extra threads slow down "
                             "badly when the cores are shared)")


OTHER_LIBRARIES_WORDS = {"learning_rate": "lr", "discount": "gamma", "discount_factor": "gamma"}
"""Field names other RL libraries use, read as the kit's word when ``--set`` guesses what a user meant."""


def parse_settings(items: list[str], cls: type) -> dict[str, object]:
    """``--set`` items -> ``algo_config`` overrides, each typed like its field's default in the learner's config
    class ``cls``: ``["critic_lr=1e-3", "double_q=false"]`` -> ``{"critic_lr": 0.001, "double_q": False}``."""
    defaults = {f.name: f.default for f in fields(cls)}
    settings: dict[str, object] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if sep and name not in defaults and (note := setting_note(cls, name)):
            new_name = renamed_to(cls, name)
            write = f"; write --set {new_name}={text.strip()}" if new_name else ""
            raise UserError(f"--set {item!r}: {note}{write}.")
        if not sep:
            raise UserError(f"Cannot read --set {item!r}; write NAME=VALUE with NAME a field of {cls.__name__} "
                            f"({', '.join(defaults)}).")
        if name not in defaults:
            # lr -> critic_lr or actor_lr; critc_lr -> critic_lr; learning_rate (other libraries' word) -> as lr
            hint = did_you_mean(OTHER_LIBRARIES_WORDS.get(name, name), defaults, n=3)
            raise UserError(f"--set {item!r}: {cls.__name__} has no field {name!r}{hint}; its fields are "
                            f"{', '.join(defaults)}, and `nqmix settings ALGO` explains each.")
        kind = type(defaults[name])
        try:
            settings[name] = read_value(text, kind)
        except (ValueError, OverflowError):
            raise UserError(f"--set {item!r}: {name} takes {KIND_WORDS[kind]}, not {text!r}.") from None
    return settings


def settings(args: argparse.Namespace) -> tuple[RunConfig, AlgoConfig]:
    """The run's and the algorithm's configuration from parsed ``train`` options (one-sentence errors)."""
    config = RunConfig(**{f.name: getattr(args, f.name) for f in fields(RunConfig)})
    preset = algo_config(config.algo)  # one sentence if the name is unknown
    algo = algo_config(config.algo, **parse_settings(args.set, type(preset)))
    if args.threads < 1:
        raise UserError("--threads must be at least 1.")
    return config, algo


def train_parser() -> OneLineParser:
    parser = OneLineParser(prog="nqmix train")
    add_train_options(parser)
    return parser


def check_train_argv(argv: list[str]) -> tuple[RunConfig, AlgoConfig]:
    """Everything ``nqmix train ARGV`` checks before it starts work, without starting it: the options, both
    configurations, the environment's name (SMAX's map list; nothing is compiled) and the device."""
    from nqmix_core.devices import resolve_device
    from nqmix_core.registry import check_env_name

    config, algo = settings(train_parser().parse_args(argv))
    check_env_name(config.env)
    resolve_device(config.device)
    return config, algo


def option_names() -> set[str]:
    """The keys a sweep file's ``train:`` may hold (dashes or underscores)."""
    names = set(EXTRA_OPTIONS)
    for field in fields(RunConfig):
        default = field.default
        names.add(f"no_{field.name}" if default is True else field.name)
    return names - set(SWEEP_SETS) - {"no_progress"}


def settings_text(algo: str, width: int = 100) -> str:
    """What ``--set`` may change for ``algo`` (``nqmix settings ALGO``): every field of its config class with
    the preset's value and the field's documentation, read from the dataclasses; the learner's own fields
    first, then those it shares with other learners."""
    import textwrap

    preset = algo_config(algo)  # one sentence if the name is unknown
    names = {f.name for f in fields(preset)}
    lines = [f"{algo}: {type(preset).kind.summary}. Its settings are the fields of {type(preset).__name__}; "
             f"change one with --set NAME=VALUE."]
    seen: set[str] = set()
    for owner in type(preset).__mro__[:-1]:  # the learner's own class first, object last
        docs = {k: v for k, v in field_docs(owner).items() if k in names and k not in seen}
        if not docs:
            continue
        lines.append(f"\n{owner.__name__} ({owner.__module__.replace('.', '/')}.py):")
        for name, doc in docs.items():
            lines.append(f"  {name} = {getattr(preset, name)!r}")
            lines += textwrap.wrap(doc, width, initial_indent=" " * 6, subsequent_indent=" " * 6)
        seen |= set(docs)
    return "\n".join(lines)


def command_line(argv: list[str]) -> str:
    """The ``nqmix ...`` line that ``argv`` came from, quoted so that a shell reads it back the same: what a
    manifest records as its command."""
    return shlex.join(["nqmix", *argv])
