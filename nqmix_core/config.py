"""Configuration: frozen dataclasses, the only place where defaults live (with each learner's own fields in
its config class, in its module).

``AlgoConfig`` holds the hyper-parameters the kit's learners share. Its defaults are the paper's
Appendix B values for NQMIX. Each learner's config is a subclass of it, in the learner's module
(``learners/``), that says the learner's facts (``kind``: on/off-policy, discrete/continuous, the mixers
it trains with) and adds the learner's own fields and their rules; its presets (pymarl's SMAC defaults
for QMIX and VDN, from its ``src/config/algs/*.yaml``) sit beside it, and ``registry.PRESETS`` gathers them.

Sizes that come from the environment (number of agents, observation size, ...) are not here: they
live in ``nqmix_core.specs.EnvInfo``. The values each field accepts are tabled in ``config_checks.py`` (a
learner's own fields: in its class's ``rules``); a config built with any other value raises a one-sentence
``UserError`` that names the field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nqmix_core.catalog import LearnerKind, default_reward_scale
from nqmix_core.config_checks import RUN_RULES, algo_problems, field_problems, raise_if_any


@dataclass(frozen=True)
class AlgoConfig:
    """Hyper-parameters of one learning algorithm (a learner's config class subclasses it)."""

    kind: ClassVar[LearnerKind | None] = None
    """The learner's facts; None on this shared base, which no learner trains with by itself."""
    rules: ClassVar[dict] = {}
    """Rules (``config_checks.Rule``) for the fields a subclass adds."""

    learner: str = "actor-critic"
    """Which learner trains it: "actor-critic" (NQMIX, Alg. 1), "q-learning" (QMIX, VDN), "coma"
    (on-policy counterfactual policy gradient, Foerster et al. 2018, as pymarl runs it),
    "continuous-actor-critic" (NQMIX for continuous actions, Alg. 2: deterministic actors, Eq. 14) or "ppo"
    (IPPO). Each learner's config class fixes it to its ``kind.name``; manifests record it."""
    mixer: str = "nqmix"
    """Mixing network: "nqmix" (MLP on [Q_1..Q_n, s], Sec. 4.2), "qmix" (monotonic hypernetwork),
    "qmix-no-abs" (QMIX's mixer without abs(): the NQMIX-M ablation of Sec. 5.2), "vdn" (sum) or "none"
    (COMA, whose centralised critic is not a mixer; with the continuous learner: independent DDPG,
    each agent's Q_a regressed on the shared team reward by itself)."""

    # --- optimisation (App. B: RMSprop, lr 5e-4 for the critic and for each actor) ---
    gamma: float = 0.99
    """Discount factor γ (App. B)."""
    critic_lr: float = 5e-4
    """RMSprop learning rate of the critic = shared agent network + mixer (App. B)."""
    actor_lr: float = 5e-4
    """RMSprop learning rate of the per-agent actors (App. B). Unused by Q-learning."""
    rms_alpha: float = 0.99
    """RMSprop smoothing constant (pymarl's value; the paper does not give one)."""
    rms_eps: float = 1e-5
    """RMSprop epsilon (pymarl's value; the paper does not give one)."""
    grad_norm_clip: float = 10.0
    """Clip of the critic's gradient norm (pymarl's value; the paper does not mention clipping).
    Actor gradients are not clipped, so that each actor's step stays independent of the others."""
    batch_size: int = 32
    """Episodes per sampled mini-batch (pymarl's value; Alg. 1 line 4 calls it N)."""
    buffer_size: int = 5000
    """Replay capacity in episodes (pymarl's value)."""

    # --- networks (App. B.1) ---
    rnn_hidden_dim: int = 64
    """Width of the agent network: Linear 64 -> GRU 64 -> Linear |U|."""
    actor_hidden_dim: int = 64
    """Hidden width of each agent's actor: Linear 64 + ReLU -> Linear |U|."""
    mixer_embed_dim: int = 32
    """QMIX mixer embedding width (pymarl's value). The NQMIX MLP uses 32·(A+4)−A hidden units."""
    hypernet_hidden_dim: int = 64
    """Hidden width of QMIX's two-layer hypernetworks (pymarl's value)."""

    # --- target networks ---
    target_update: str = "soft"
    """"soft" (Polyak averaging every update, Alg. 1 line 16) or "hard" (copy every
    ``target_update_interval`` episodes, as pymarl's QMIX)."""
    tau: float = 0.001
    """Soft-update rate τ (App. B), per time step: see ``tau_per_time_step``."""
    tau_per_time_step: bool = True
    """Read τ as Alg. 1 does. Its soft update (line 16) sits inside the loop over the time steps of
    the mini-batch (lines 6–17), so τ is a rate per time step. We take one optimiser step per
    mini-batch, during which the online weights do not change, so T successive soft updates equal one
    update at rate 1 − (1 − τ)^T, with T the time steps unrolled in that batch; that is what True
    applies. False applies τ once per mini-batch (the kit's reading before: about T times slower)."""
    target_update_interval: int = 200
    """Episodes between hard target copies (pymarl's value)."""
    @property
    def on_policy(self) -> bool:
        """True when the learner must train on the episodes just collected (COMA), not on replay."""
        return self.kind is not None and self.kind.on_policy

    def own_problems(self) -> list[str]:
        """What breaks a rule that ties this learner's own fields to the others (a subclass says; none here)."""
        return []

    def __post_init__(self) -> None:
        raise_if_any(algo_problems(self), "algorithm", type(self))


@dataclass(frozen=True)
class EpsilonConfig(AlgoConfig):
    """The ε schedule of the learners with discrete actions; their config classes subclass it. (The continuous
    learner explores with Gaussian noise instead: ``ContinuousConfig.noise_std_start``.)"""

    epsilon_start: float = 1.0
    """ε at the start of training (pymarl's value). Q-learning: ε-greedy. Actor-critic: the behaviour
    policy is (1−ε)·π + ε·uniform over available actions; the NQMIX presets use ε = 0, i.e. they
    sample π itself as Alg. 1 line 2 says. COMA: (1−ε)·softmax(logits) + ε/|U|, unavailable actions then
    masked out (pymarl's). IPPO: 0."""
    epsilon_finish: float = 0.05
    """ε after annealing (pymarl's value)."""
    epsilon_anneal_steps: int = 50_000
    """Environment steps over which ε falls linearly from start to finish (pymarl's value)."""


RENAMED_FIELDS: dict[str, dict[str, str]] = {
    "continuous-actor-critic": {"epsilon_start": "noise_std_start", "epsilon_finish": "noise_std_finish",
                                "epsilon_anneal_steps": "noise_anneal_steps"},
}
"""learner -> {old field: today's field}: fields renamed since manifests and checkpoints were first written."""


def current_fields(settings: dict) -> dict:
    """An ``algo_config`` as a manifest or checkpoint recorded it, under today's field names (a continuous run
    written before its noise had its own fields called its standard deviation ``epsilon_*``)."""
    renamed = RENAMED_FIELDS.get(settings.get("learner"), {})
    if any(new in settings for new in renamed.values()):
        return dict(settings)
    return {renamed.get(k, k): v for k, v in settings.items()}


KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a name"}


def read_value(text: str, kind: type) -> object:
    """Read ``text`` as a value of ``kind`` (bool, int, float or str); ValueError if it is not one.

    The one reader of typed text: ``--set`` values (``run_options.parse_settings``), ``nqmix train``'s options
    and sweep files' ``train:`` options. A whole number may be written 5e3 (it stays an int); the field's rule
    checks the value.
    """
    text = str(text).strip()
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(text)
        return text.lower() in ("true", "1")
    if kind is int:
        number = float(text)  # accepts 5e3
        if not number.is_integer():
            raise ValueError(text)
        return int(number)
    return kind(text)


@dataclass(frozen=True)
class RunConfig:
    """Settings of one training run (``nqmix train``): what to train, where, for how long, how to log.

    The evaluation protocol is the paper's (Sec. 5): every ``test_interval`` environment steps,
    ``test_episodes`` episodes with the greedy policy and as many with the stochastic one.
    """

    algo: str = "nqmix"
    """Algorithm name, a key of ``registry.PRESETS`` (checked there, where the learners are known): nqmix,
    nqmix-m, qmix, vdn, iql, coma, ippo, the NQMIX variants; for continuous actions nqmix-cont, qmix-cont or
    iddpg. ``nqmix train --help`` lists them all."""
    env: str = "smax:3m"
    """Environment name ``backend:task`` (``registry.make_env``): smax:3m, matrix:qtran, ...; with
    continuous actions continuous:two-peak or smax-cont:3m."""
    seed: int = 0
    """Seeds the network initialisation, the action and replay random streams and the environment."""
    reward_scale: float | None = None
    """The learner trains on the environment's reward × this, every method alike (the replay and the
    on-policy batch hold the scaled reward, so TD errors, targets and Q values are on that scale).
    Win flags, episode ends, the test and training returns in ``progress.csv`` and the value
    diagnostics (``train_diag_q_tot``, ``train_diag_return``) stay in the environment's own units.
    SMAX pays at most 2 per episode, SMAC 20, and pymarl's learning rate and gradient clip were tuned
    at SMAC's scale; JaxMARL's Q-learning configs for SMAX use 10. None (the default) takes the
    backend's scale (``catalog.ENV_BACKENDS``: 10 for SMAX since ``data/reward_scale``'s check, else 1);
    the resolved number is what the config holds and the manifest records. Manifests without it read as 1."""
    t_max: int = 2_000_000
    """Stop once this many environment steps have been collected (pymarl's SMAC budget ≈ 2M)."""
    device: str = "auto"
    """"auto" (CUDA if available, else CPU), "cpu", "cuda" or "cuda:N"."""
    n_envs: int = 8
    """E, environment copies stepped together; one rollout collects E episodes (pymarl's COMA runs 8)."""
    updates_per_episode: float = 1.0
    """Off-policy learners: learner updates per collected episode, so round(E · this) updates follow
    each rollout of E episodes. 1.0 keeps pymarl's ratio (one update of 32 sampled episodes after
    every episode). On-policy COMA ignores it: one update on the E episodes just collected."""
    overlap_collection: bool = False
    """Off-policy learners: collect the next rollout in a second thread while the learner makes its
    updates, so that a second CPU core works too. That rollout acts with a copy of the networks taken
    before the updates, so the behaviour policy is one rollout older than in pymarl's loop, and the
    updates do not yet see the episodes being collected. Off by default: the paper's loop is
    sequential. COMA trains on-policy and refuses it."""
    test_interval: int = 5_000
    """Environment steps between evaluations (paper Sec. 5: 5,000). Also evaluated at step 0."""
    test_episodes: int = 32
    """Episodes per evaluation and per mode (greedy and stochastic): the paper's 32."""
    checkpoint_interval: int = 50_000
    """Environment steps between checkpoints (a replay buffer of 5,000 SMAX episodes is ~100 MB to
    write); a checkpoint is also written when the run ends."""
    tensorboard: bool = True
    """Also log to TensorBoard (``DIR/tb``) when ``torch.utils.tensorboard`` can be imported."""
    progress: bool = True
    """Show a tqdm progress bar with the step count and the latest greedy win rate."""

    def __post_init__(self) -> None:
        if self.reward_scale is None:  # frozen: the one field resolved at construction
            object.__setattr__(self, "reward_scale", default_reward_scale(self.env))
        raise_if_any(field_problems(self, RUN_RULES), "run", RunConfig)


def field_docs(cls) -> dict[str, str]:
    """The documentation string under each field of a config dataclass (read from this module's source)."""
    import ast
    import inspect

    body = ast.parse(inspect.getsource(cls)).body[0].body
    docs = {}
    for field, doc in zip(body, body[1:]):
        if (isinstance(field, ast.AnnAssign) and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)):
            docs[field.target.id] = " ".join(doc.value.value.split())
    return docs
