"""Reference policies for SMAX: what a win rate is worth next to behaviours that learn nothing.

    policy = ScriptedPolicy(env.info, target="weakest")
    evaluate(env, policy, "greedy", 320, 0, generator)        # the same test protocol as the learners

SMAX's enemy is a heuristic (shoot the closest unit in range, else walk), and fixed behaviours beat it
often (``data/reference`` measures how often); a learned method's win rate means little without them
beside it. Each policy here has the learners' acting interface (``initial_hidden``, ``act``), so ``runner.rollout`` and
``runner.evaluate`` play it exactly as they play a learner.

| name              | when an enemy is in range (an attack action is available) | otherwise                  |
|-------------------|-----------------------------------------------------------|----------------------------|
| ``random``        | uniform over the available actions                        | the same                   |
| ``script-first``  | shoot the in-range enemy with the lowest index            | step toward the closest enemy |
| ``script-closest``| shoot the closest in-range enemy                          | step toward the closest enemy |
| ``script-weakest``| shoot the in-range enemy with the least health (focus fire)| step toward the closest enemy |
| ``hold-weakest``  | shoot the in-range enemy with the least health            | stop (let them come)       |

The scripts read unit positions and health from the global state (``envs/smax.py`` documents its layout:
per unit [health, x, y, cooldown, type bits], allies first), which no learner's policy sees: they are
calibration points, not competitors. SMAX's discrete actions: 0 = +y, 1 = +x, 2 = −y, 3 = −x, 4 = stop,
5 + j = shoot enemy j. A dead agent can only stop.
"""
from __future__ import annotations

import torch

from nqmix_core.specs import EnvInfo, Observation

N_MOVES, STOP = 4, 4
MOVE_DIRECTIONS = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])
"""SMAX's movement actions 0..3 as unit vectors (x, y), from jaxmarl's ``_decode_discrete_actions``."""
POLICIES = ("random", "script-first", "script-closest", "script-weakest", "hold-weakest")


def unit_table(state: torch.Tensor, info: EnvInfo) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(health, positions) of allies and enemies from SMAX's world state: state [E, S] ->
    health [E, A+K], xy [E, A+K, 2] (allies first, K enemies) and the number of allies A."""
    n_enemies = info.n_actions - N_MOVES - 1
    n_units = info.n_agents + n_enemies
    features = info.state_dim // n_units - 2  # per-unit block length F (then team and type index per unit)
    units = state[:, :n_units * features].view(state.shape[0], n_units, features)  # [E, A+K, F]
    return units[..., 0], units[..., 1:3], torch.tensor(info.n_agents)


class ReferencePolicy:
    """A fixed policy with the learners' acting interface; ``mode`` and ``t_env`` do not change it."""

    def __init__(self, info: EnvInfo, name: str) -> None:
        if name not in POLICIES:
            from nqmix_core.errors import UserError
            raise UserError(f"Unknown reference policy {name!r}; choose one of {', '.join(POLICIES)}.")
        if info.continuous:
            from nqmix_core.errors import UserError
            raise UserError("The reference policies act in SMAX's discrete actions; use a smax:<map> environment.")
        self.info, self.name = info, name

    def initial_hidden(self, n_envs: int) -> torch.Tensor:
        return torch.zeros(n_envs, self.info.n_agents, 1)

    @torch.no_grad()
    def act(self, obs: Observation, last_actions: torch.Tensor, hidden: torch.Tensor, mode: str, t_env: int,
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        avail = obs.avail_actions  # [E, N, U]
        if self.name == "random":
            draws = torch.rand(avail.shape, generator=generator, device=avail.device)  # [E, N, U]
            return draws.masked_fill(~avail, -1.0).argmax(-1), hidden
        return scripted_actions(obs.state, avail, self.info, self.name), hidden


def scripted_actions(state: torch.Tensor, avail: torch.Tensor, info: EnvInfo, name: str) -> torch.Tensor:
    """The scripts of the module's table: state [E, S], avail [E, N, U] -> actions [E, N]."""
    health, xy, n_allies = unit_table(state, info)
    allies, enemies = xy[:, :n_allies], xy[:, n_allies:]  # [E, N, 2], [E, K, 2]
    enemy_alive = health[:, n_allies:] > 0  # [E, K]
    offsets = enemies.unsqueeze(1) - allies.unsqueeze(2)  # [E, N, K, 2]: ally a -> enemy j
    distance = offsets.norm(dim=-1).masked_fill(~enemy_alive.unsqueeze(1), float("inf"))  # [E, N, K]
    in_range = avail[..., N_MOVES + 1:]  # [E, N, K]: shooting j is available
    if name == "script-first":
        score = torch.arange(in_range.shape[-1], dtype=torch.float32, device=state.device).expand_as(distance)
    elif name == "script-closest":
        score = distance
    else:  # the weakest in range first (focus fire), ties to the closest
        score = health[:, n_allies:].unsqueeze(1) + 1e-3 * distance.clamp(max=1e3)
    target = score.masked_fill(~in_range, float("inf")).argmin(-1)  # [E, N]
    shoot = N_MOVES + 1 + target  # [E, N]
    closest = distance.argmin(-1, keepdim=True)  # [E, N, 1]
    toward = offsets.gather(2, closest.unsqueeze(-1).expand(-1, -1, 1, 2)).squeeze(2)  # [E, N, 2]
    move = (toward @ MOVE_DIRECTIONS.to(state.device).T).argmax(-1)  # [E, N]: the direction most toward it
    idle = torch.full_like(move, STOP) if name.startswith("hold") else move
    idle = torch.where(avail.gather(-1, idle.unsqueeze(-1)).squeeze(-1), idle, torch.full_like(idle, STOP))
    return torch.where(in_range.any(-1), shoot, idle)  # a dead agent has only "stop" available: idle = STOP


def wilson_interval(wins: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a win rate of ``wins`` out of ``n`` battles."""
    if n == 0:
        return 0.0, 1.0
    p = wins / n
    centre, half = p + z * z / (2 * n), z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def evaluate_references(env, episodes: int, seed: int) -> list[dict]:
    """Every policy of ``POLICIES`` on ``env`` (built by ``registry.make_env``), ``episodes`` battles each."""
    from nqmix_core.runner import evaluate

    rows = []
    for name in POLICIES:
        env.reset(seed)  # every policy meets the same sequence of starting positions
        result = evaluate(env, ReferencePolicy(env.info, name), "greedy", episodes, 0,
                          torch.Generator(device=env.device).manual_seed(seed))
        rate = float(result["win_rate"])
        wins = round(rate * episodes)
        low, high = wilson_interval(wins, episodes)
        rows.append({"policy": name, "episodes": episodes, "wins": wins, "win_rate": rate, "win_rate_low": low,
                     "win_rate_high": high, "return": float(result["return"])})
    return rows


def write_references(env_name: str, out, episodes: int = 320, seed: int = 0, device: str = "cpu",
                     command: str | None = None) -> list:
    """``nqmix reference``: evaluate every reference policy on ``env_name``; write ``OUT/<env>/reference.csv``
    and its ``manifest.json``. Returns the rows."""
    import time
    from pathlib import Path

    from nqmix_core.devices import resolve_device
    from nqmix_core.errors import UserError
    from nqmix_core.experiment_io import check_fresh, make_folder, provenance, write_csv, write_json
    from nqmix_core.registry import check_env_name, make_env

    if episodes < 1:
        raise UserError("--episodes must be at least 1.")
    if not str(env_name).startswith("smax:"):
        raise UserError(f"The reference policies play SMAX's discrete actions; give a smax:<map> environment, "
                        f"not {env_name!r}.")
    check_env_name(env_name)
    folder = Path(out) / env_name.replace(":", "-")
    check_fresh(folder, ("reference.csv", "manifest.json"), "nqmix reference")
    make_folder(folder)
    started, clock = provenance(command), time.perf_counter()
    env = make_env(env_name, 8, resolve_device(device), seed)
    try:
        rows = evaluate_references(env, episodes, seed)
    finally:
        env.close()
    write_csv(folder / "reference.csv", rows)
    write_json(folder / "manifest.json", {**started, "env": env_name, "episodes": episodes, "seed": seed,
                                          "policies": list(POLICIES), "episode_limit": env.info.episode_limit,
                                          "wall_seconds": round(time.perf_counter() - clock, 1)})
    return rows


def strongest_scripts(root) -> dict[str, dict]:
    """Map -> the row of its strongest scripted policy (highest win rate) from ``nqmix reference``'s folders
    under ``root`` (``<root>/smax-<map>/reference.csv``); maps without a folder are left out."""
    import csv
    from pathlib import Path

    strongest = {}
    for path in sorted(Path(root).glob("smax-*/reference.csv")):
        with open(path) as f:
            rows = [r for r in csv.DictReader(f) if r["policy"] != "random"]
        if rows:
            best = max(rows, key=lambda r: float(r["win_rate"]))
            strongest[path.parent.name.removeprefix("smax-")] = {
                "policy": best["policy"], **{k: float(best[k]) for k in ("win_rate", "win_rate_low", "win_rate_high")}}
    return strongest
