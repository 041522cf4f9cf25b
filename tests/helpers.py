"""Small builders shared by the tests."""
import torch

from nqmix_core.specs import EpisodeBatch, empty_batch
from nqmix_core.envs.base import EnvInfo, Observation, StepResult

INFO = EnvInfo(n_agents=3, obs_dim=5, state_dim=7, n_actions=4, episode_limit=6)


def random_batch(lengths=(6, 4, 2), info: EnvInfo = INFO, seed: int = 0, timed_out_last=False) -> EpisodeBatch:
    """Episodes of the given lengths filled with random data; steps after each end are zero padding."""
    g = torch.Generator().manual_seed(seed)
    batch = empty_batch(len(lengths), info, "cpu")
    for b, length in enumerate(lengths):
        batch.obs[b, :length + 1] = torch.randn(length + 1, info.n_agents, info.obs_dim, generator=g)
        batch.state[b, :length + 1] = torch.randn(length + 1, info.state_dim, generator=g)
        avail = torch.rand(length + 1, info.n_agents, info.n_actions, generator=g) > 0.4
        avail[..., 1] = True
        batch.avail_actions[b, :length + 1] = avail
        logits = torch.where(avail[:length], 0.0, float("-inf"))
        batch.actions[b, :length] = torch.distributions.Categorical(logits=logits).sample()
        batch.reward[b, :length] = torch.randn(length, generator=g)
        batch.filled[b, :length] = 1.0
        ends_in_limit = timed_out_last and length == info.episode_limit
        batch.terminated[b, length - 1] = not ends_in_limit
    return batch


def fill_padding_with_garbage(batch: EpisodeBatch, seed: int = 1) -> EpisodeBatch:
    """A copy whose padded steps (after each episode's last observation) hold random junk."""
    g = torch.Generator().manual_seed(seed)
    out = batch.map(torch.clone)
    for b in range(batch.n_episodes):
        length = int(batch.filled[b].sum())
        out.obs[b, length + 1:] = torch.randn_like(out.obs[b, length + 1:]) * 100
        out.state[b, length + 1:] = torch.randn_like(out.state[b, length + 1:]) * 100
        out.avail_actions[b, length + 1:] = torch.rand(out.avail_actions[b, length + 1:].shape, generator=g) > 0.5
        out.actions[b, length:] = torch.randint(0, out.avail_actions.shape[-1], out.actions[b, length:].shape,
                                                generator=g)
        out.reward[b, length:] = 1e3
        out.terminated[b, length:] = torch.rand(out.terminated[b, length:].shape, generator=g) > 0.5
    return out


def product_mixer(qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Q_tot = Q_1·Q_2 + s: non-monotonic and easy by hand; ∂Q_tot/∂Q_1 = Q_2, ∂Q_tot/∂Q_2 = Q_1 at each step."""
    return qs[..., 0] * qs[..., 1] + state[..., 0]


def copied_targets(learner) -> list[bool]:
    """For each (target, online) pair of ``learner.target_pairs()``: whether the target equals the online network."""
    return [all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), online.state_dict().values()))
            for target, online in learner.target_pairs()]


def reference_folder(root, map_name: str, rows: str):
    """``nqmix reference``'s folder for one map under ``root``, its reference.csv holding ``rows`` (CSV lines)."""
    folder = root / f"smax-{map_name}"
    folder.mkdir()
    folder.joinpath("reference.csv").write_text(
        "policy,episodes,wins,win_rate,win_rate_low,win_rate_high,return\n" + rows)
    return folder


def targets_apart(learner, seed: int = 5, scale: float = 0.3):
    """``learner`` with every target network of ``target_pairs()`` moved off its online network by Gaussian noise,
    as targets are between two copies (otherwise double Q-learning and a plain max give the same target)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for target, _ in learner.target_pairs():
            for p in target.parameters():
                p.add_(torch.randn(p.shape, generator=g) * scale)
    return learner


class ScriptedEnv:
    """Copy e lasts lengths[e] steps; copy 1 times out instead of terminating. Reward = 10·t + 1."""

    def __init__(self, lengths, limit):
        self.lengths = torch.tensor(lengths)
        self.info = EnvInfo(n_agents=2, obs_dim=1, state_dim=1, n_actions=2, episode_limit=limit)
        self.n_envs, self.device = len(lengths), torch.device("cpu")

    def _obs(self):
        e = self.n_envs
        return Observation(obs=torch.full((e, 2, 1), float(self.t)), state=torch.full((e, 1), float(self.t)),
                           avail_actions=torch.ones(e, 2, 2, dtype=torch.bool))

    def reset(self, seed=None):
        self.t = 0
        return self._obs()

    def step(self, actions):
        self.t += 1
        ended = self.t >= self.lengths
        timed_out = torch.zeros_like(ended)
        timed_out[1] = bool(ended[1])
        return StepResult(next=self._obs(), reward=torch.full((self.n_envs,), 10.0 * self.t - 9),
                          terminated=ended & ~timed_out, timed_out=timed_out, won=ended)

    def close(self):
        pass
