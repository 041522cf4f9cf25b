"""Watch SMAX battles: record an episode, decode whom each agent shoots, and draw snapshots of it.

    episode = record_episode(env, learner, "greedy", seed=7)     # every copy plays; copy 0 is drawn
    fig = draw_battles({"untrained": before, "trained": after})  # rows: battles, columns: key steps
    focus_fire(episode.actions, episode.avail_actions, episode.filled)  # how often the team focuses

Used by notebook 04 to show what a "win" is and whether a team focuses its fire. Our own matplotlib
drawing rather than JaxMARL's ``SMAXVisualizer``: that one replays jax states and actions through
``expand_state_seq`` (our episodes are played by torch learners through ``SMAXEnv``), draws the whole
32 × 32 map and marks whom a unit shoots only by a lighter colour.

Discrete SMAX actions of one of our agents (jaxmarl ``SMAX._decode_discrete_actions`` and
``_world_step``; ``num_movement_actions = 5``):

| action a    | meaning                                                          |
|-------------|------------------------------------------------------------------|
| 0–3         | move                                                             |
| 4           | stop                                                             |
| 5 + j       | shoot enemy j, which is unit ``n_allies + j`` (allies come first) |

A shot lands only if the target is in range and alive and the weapon has cooled down; the arrows drawn
show whom each unit *aims at* on that step. The enemy's aims are read from SMAX's state after the step
(``prev_attack_actions``, where the enemy's attack actions count its targets in reverse order: action
5 + j of enemy unit i aims at our unit ``n_allies − 1 − j``).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from nqmix_core.runner import rollout

SMAX_MOVE_ACTIONS = 5
"""Actions before the first attack action (4 moves and stop): jaxmarl's ``num_movement_actions``."""

ALLY_COLOUR, ENEMY_COLOUR, AIM_COLOUR, ENEMY_AIM_COLOUR = "tab:blue", "tab:red", "darkorange", "darkred"
FONT_SIZE = 9
"""Points: the smallest text of the figure (titles, labels, legend), readable at notebook width."""
FIGURE_WIDTH = 9.0
"""Inches: at matplotlib's 100 dpi the figure is 900 pixels wide, about a notebook's output width."""


@dataclass
class EpisodeFrames:
    """One episode played in every copy: copy 0's units per step, and every copy's actions.

    E copies, T steps until the last copy ended, N agents, U actions.
    """

    units: list[dict]  # copy 0: SMAXEnv.units() per step, the reset state first (its steps + 1 entries);
    #                    after a step, "aims" [U] holds whom each unit aimed at on that step (−1: nobody)
    won: bool  # copy 0
    episode_return: float  # copy 0
    actions: np.ndarray  # [E, T, N] int, the action each agent took at each step
    avail_actions: np.ndarray  # [E, T, N, U] bool, what it could take
    filled: np.ndarray  # [E, T] bool, True while that copy's battle runs

    @property
    def n_steps(self) -> int:
        """How many steps copy 0's battle lasted."""
        return len(self.units) - 1


@torch.no_grad()
def record_episode(env, learner, mode: str = "greedy", seed: int = 0, t_env: int = 0,
                   generator: torch.Generator | None = None) -> EpisodeFrames:
    """Play one episode in every copy with ``learner.act`` in ``mode`` until every copy has ended
    (``runner.rollout``, which calls back after every step so that copy 0's units can be drawn)."""
    env.reset(seed)  # the start, to draw; rollout resets to it again (the same seed gives the same episode)
    units, copy0 = [env.units(0)], {"won": False, "return": 0.0}

    def watch(t, result, active) -> None:
        if bool(active[0]):
            now = env.units(0)
            units.append({**now, "aims": unit_aims(now)})
            copy0["return"] += float(result.reward[0])
            copy0["won"] = bool(result.won[0])
    batch, stats = rollout(env, learner, mode, t_env, generator, seed=seed, on_step=watch)
    batch = batch.trim(int(stats.lengths.max()))  # the steps until every copy had ended
    return EpisodeFrames(units=units, won=copy0["won"], episode_return=copy0["return"],
                         actions=batch.actions.cpu().numpy(),  # [E, T, N]
                         avail_actions=batch.avail_actions[:, :-1].cpu().bool().numpy(),  # [E, T, N, U]
                         filled=batch.filled.cpu().bool().numpy())  # [E, T]


def attack_targets(actions: np.ndarray, n_allies: int) -> np.ndarray:
    """The unit each of our agents shoots at (enemy j is unit ``n_allies + j``), −1 if it moves or stops.

    actions: any shape of discrete SMAX ally actions, e.g. [E, T, N]; returns the same shape.
    """
    actions = np.asarray(actions)
    return np.where(actions >= SMAX_MOVE_ACTIONS, n_allies + actions - SMAX_MOVE_ACTIONS, -1)


def decode_aims(attack_actions: np.ndarray, n_allies: int) -> np.ndarray:
    """Whom every unit aimed at, from SMAX's ``prev_attack_actions`` [U] (0 or a move: −1).

    Unit i < n_allies (ours) aims at unit ``n_allies + a − 5``; an enemy unit aims at our unit
    ``n_allies − 1 − (a − 5)`` (jaxmarl ``SMAX._world_step``, ``update_agent_health``).
    """
    actions = np.asarray(attack_actions)
    ours = np.arange(len(actions)) < n_allies  # [U]
    target = np.where(ours, n_allies + actions - SMAX_MOVE_ACTIONS, n_allies - 1 - (actions - SMAX_MOVE_ACTIONS))
    return np.where(actions >= SMAX_MOVE_ACTIONS, target, -1)


def unit_aims(units: dict) -> np.ndarray | None:
    """Whom every unit aimed at on the step just played, from ``SMAXEnv.units()``; None without that record."""
    if "attack_actions" not in units:
        return None
    return decode_aims(units["attack_actions"], int((np.asarray(units["team"]) == 0).sum()))


def focus_fire(actions: np.ndarray, avail_actions: np.ndarray, filled: np.ndarray) -> dict[str, float]:
    """How often our agents that shoot on the same step all shoot the same enemy.

    actions [E, T, N], avail_actions [E, T, N, U], filled [E, T]. Only steps where two or more agents
    shoot count. ``chance`` is what the agents would score if each picked uniformly among the enemies
    it could shoot on that step (averaged over the same steps): the bar a focusing team should clear.

    | key      | meaning                                                         |
    |----------|-----------------------------------------------------------------|
    | steps    | steps with two or more agents shooting                          |
    | focused  | of those, steps where they all shoot one enemy                  |
    | fraction | focused / steps (nan when steps is 0)                           |
    | chance   | the same fraction for uniformly random aiming (nan when 0 steps) |
    """
    shooting = (actions >= SMAX_MOVE_ACTIONS) & filled[..., None]  # [E, T, N]
    counted = shooting.sum(axis=-1) >= 2  # [E, T]
    enemy = np.where(shooting, actions - SMAX_MOVE_ACTIONS, -1)  # [E, T, N]
    highest = enemy.max(axis=-1)  # [E, T]
    lowest = np.where(shooting, enemy, np.iinfo(enemy.dtype).max).min(axis=-1)  # [E, T]
    focused = counted & (highest == lowest)  # [E, T]
    targets = avail_actions[..., SMAX_MOVE_ACTIONS:].astype(float)  # [E, T, N, J]
    pick = targets / np.maximum(targets.sum(axis=-1, keepdims=True), 1)  # [E, T, N, J] uniform over targets
    pick = np.where(shooting[..., None], pick, 1.0)  # agents that do not shoot do not constrain
    agree = pick.prod(axis=-2).sum(axis=-1)  # [E, T] P(all shooters pick the same enemy)
    n_steps = int(counted.sum())
    if n_steps == 0:
        return {"steps": 0, "focused": 0, "fraction": float("nan"), "chance": float("nan")}
    return {"steps": n_steps, "focused": int(focused.sum()), "fraction": float(focused.sum() / n_steps),
            "chance": float(agree[counted].mean())}


def snapshot_steps(episode: EpisodeFrames, n_panels: int) -> list[int]:
    """Steps of copy 0 worth a picture: ``n_panels − 1`` steps spread over those where our agents shoot
    (over the whole battle if they never do), and the end."""
    n_allies = int((episode.units[0]["team"] == 0).sum())
    shots = attack_targets(episode.actions[0, :episode.n_steps], n_allies) >= 0  # [T0, N]
    busy = np.flatnonzero(shots.any(axis=-1))
    candidates = busy if len(busy) else np.arange(episode.n_steps)
    if len(candidates) == 0:  # the battle ended before its first step
        return [episode.n_steps]
    picks = candidates[np.linspace(0, len(candidates) - 1, n_panels - 1).round().astype(int)]
    return sorted({*map(int, picks), episode.n_steps})


def draw_battles(episodes: dict[str, EpisodeFrames], n_panels: int = 4) -> plt.Figure:
    """One row per episode (copy 0), one panel per snapshot step, zoomed to where the units are.

    Our agents are blue circles, the enemy red triangles, dead units grey crosses; the bar over a unit
    is its health; an orange arrow joins one of our agents to the enemy it aims at on that step, a dark
    red dashed one an enemy to the agent it aims at. Every panel of every row shares one scale, and the
    figure is ``FIGURE_WIDTH`` inches wide whatever the number of panels.
    """
    steps = {label: snapshot_steps(e, n_panels) for label, e in episodes.items()}
    boxes = {label: _bounds([e.units[t] for t in steps[label]]) for label, e in episodes.items()}
    width = max((high - low)[0] for low, high in boxes.values())  # one x-span, so one scale, for all rows
    grow = {label: np.maximum([width, 0.45 * width] - (high - low), 0) / 2 for label, (low, high) in boxes.items()}
    boxes = {label: (low - grow[label], high + grow[label])  # each row centred on its own units, not too flat
             for label, (low, high) in boxes.items()}
    columns = max(len(s) for s in steps.values())
    panel = (FIGURE_WIDTH - 0.45) / columns  # inches per panel, the row label beside them
    heights = [panel * (high - low)[1] / width + 0.3 for low, high in boxes.values()]  # panel and title
    legend_band = 0.45
    fig, axes = plt.subplots(len(episodes), columns, squeeze=False, gridspec_kw={"height_ratios": heights},
                             figsize=(FIGURE_WIDTH, sum(heights) + legend_band))
    for row, (label, episode) in zip(axes, episodes.items()):
        for ax, step in zip(row, steps[label]):
            _draw_snapshot(ax, episode, step, *boxes[label], points_per_unit=72 * panel / width)
        for ax in row[len(steps[label]):]:
            ax.axis("off")
        row[0].set_ylabel(textwrap.fill(label, 14), fontsize=FONT_SIZE + 1)
    fig.tight_layout(rect=(0, legend_band / fig.get_figheight(), 1, 1), h_pad=2.0, w_pad=0.3)
    fig.canvas.draw()  # the equal-aspect panels shrink inside their cells: put the legend under the lowest
    bottom = min(ax.get_position().y0 for ax in fig.axes if ax.axison)
    fig.legend(handles=_legend_handles(), loc="upper center", ncol=3, fontsize=FONT_SIZE, frameon=False,
               bbox_to_anchor=(0.5, bottom - 0.02), columnspacing=1.2, handlelength=1.8, borderaxespad=0.1)
    return fig


def _bounds(frames: list[dict], margin: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """A box [low, high] around every unit of ``frames``, at least half as tall as it is wide."""
    points = np.concatenate([u["positions"] for u in frames])  # [F·U, 2]
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    half = (points.max(axis=0) - points.min(axis=0)) / 2 + margin  # [2]
    half = np.maximum(half, half[::-1] / 2)
    return centre - half, centre + half


def _draw_snapshot(ax, episode: EpisodeFrames, step: int, low: np.ndarray, high: np.ndarray,
                   points_per_unit: float) -> None:
    """Units, health bars and aim arrows of copy 0 at ``step``."""
    units = episode.units[step]
    n_allies = int((units["team"] == 0).sum())
    positions, alive = units["positions"], units["alive"]
    if step < episode.n_steps:  # the last frame has no action
        for shooter, target in enumerate(attack_targets(episode.actions[0, step], n_allies)):
            if target >= 0:
                _arrow(ax, positions[shooter], positions[target], AIM_COLOUR, "-", bend=0.0)
        aims = episode.units[step + 1].get("aims")  # what the step played from this frame aimed at
        for shooter in np.flatnonzero(units["team"] == 1) if aims is not None else []:
            if aims[shooter] >= 0 and alive[shooter]:
                _arrow(ax, positions[shooter], positions[aims[shooter]], ENEMY_AIM_COLOUR, (0, (3, 2)), bend=0.3)
    for team, colour, marker in ((0, ALLY_COLOUR, "o"), (1, ENEMY_COLOUR, "^")):
        mine = (units["team"] == team) & alive
        ax.scatter(*positions[mine].T, s=45, c=colour, marker=marker, edgecolors="black", linewidths=0.5,
                   zorder=3)
    ax.scatter(*positions[~alive].T, s=30, c="grey", marker="x", zorder=3)
    _health_bars(ax, positions[alive], units["health"][alive], 1 / points_per_unit)
    _enemy_labels(ax, positions[n_allies:], (FONT_SIZE + 2) / points_per_unit)
    ending = f" · {'won' if episode.won else 'lost'}" if step == episode.n_steps else ""
    ax.set_title(f"step {step}{ending}", fontsize=FONT_SIZE + 1, pad=3)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _arrow(ax, start, end, colour: str, style, bend: float) -> None:
    """An aim arrow; the enemy's bend (``bend`` > 0) so that two units aiming at each other stay apart."""
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color=colour, lw=1.4, linestyle=style,
                                                          shrinkA=4, shrinkB=5, connectionstyle=f"arc3,rad={bend}"),
                zorder=2)


def _enemy_labels(ax, positions: np.ndarray, line: float) -> None:
    """E0, E1, … to the right of each enemy, moved down where two would overlap (``line``: a label's
    height in data units); a label moved away from its unit gets a thin leader line."""
    order = np.argsort(-positions[:, 1])  # top to bottom
    placed = []
    for enemy in order:
        x, y = positions[enemy]
        label_y = y - 0.3 * line
        for other_x, other_y in placed:
            if abs(other_x - x) < 2.5 * line and label_y > other_y - line:
                label_y = other_y - line
        placed.append((x, label_y))
        moved = abs(label_y - (y - 0.3 * line)) > 1e-9
        ax.annotate(f"E{enemy}", (x, y), xytext=(x + 0.45 * line, label_y), fontsize=FONT_SIZE, va="center",
                    arrowprops=dict(arrowstyle="-", color="grey", lw=0.5, shrinkA=0, shrinkB=3) if moved else None,
                    zorder=6)


def _health_bars(ax, positions: np.ndarray, health: np.ndarray, point: float) -> None:
    """A bar over each unit: grey is the unit's full health, green what is left (``point``: 1 pt in data units)."""
    width, height = 14 * point, 3 * point
    for (x, y), fraction in zip(positions, np.clip(health, 0, 1)):
        corner = (x - width / 2, y + 5 * point)
        ax.add_patch(Rectangle(corner, width, height, facecolor="lightgrey", edgecolor="none", zorder=4))
        ax.add_patch(Rectangle(corner, width * fraction, height, facecolor="tab:green", edgecolor="none",
                               zorder=5))


def _legend_handles() -> list:
    return [Line2D([], [], marker="o", color=ALLY_COLOUR, linestyle="", label="our agent"),
            Line2D([], [], marker="^", color=ENEMY_COLOUR, linestyle="", label="enemy (E0, E1, …)"),
            Line2D([], [], marker="x", color="grey", linestyle="", label="dead"),
            Line2D([], [], color=AIM_COLOUR, lw=1.5, label="ours aim at (this step)"),
            Line2D([], [], color=ENEMY_AIM_COLOUR, lw=1.5, linestyle=(0, (3, 2)), label="enemy aims at (this step)"),
            Line2D([], [], color="tab:green", lw=4, label="health left (grey: lost)")]
