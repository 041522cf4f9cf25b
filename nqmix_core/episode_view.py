"""Watch a SMAX episode: record where the units stand at each step, and draw it as an animated GIF.

    frames = record_episode(env, learner, "greedy", seed=7)       # one episode of copy 0
    gif = animate({"before training": frames0, "after": frames1})  # bytes of an animated GIF

Used by notebook 04 to show what a "win" is. Our own drawing rather than JaxMARL's visualizer:
the episodes here are played by our torch learners through ``SMAXEnv``, and a GIF of a few hundred
kB sits well inside a notebook.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation, PillowWriter

from nqmix_core.buffer import no_previous_actions


@dataclass
class EpisodeFrames:
    """The units of one copy at each step of one episode, and how it ended."""

    units: list[dict]  # SMAXEnv.units() per step, the reset state first
    won: bool
    episode_return: float


@torch.no_grad()
def record_episode(env, learner, mode: str = "greedy", seed: int = 0, t_env: int = 0,
                   generator: torch.Generator | None = None) -> EpisodeFrames:
    """Play one episode in every copy with ``learner.act`` in ``mode``; keep copy 0's units per step."""
    obs = env.reset(seed)
    hidden = learner.initial_hidden(env.n_envs)  # [E, N, H]
    last_actions = no_previous_actions(env.info, env.n_envs, env.device)
    units, won, total = [env.units(0)], False, 0.0
    for _ in range(env.info.episode_limit):
        actions, hidden = learner.act(obs, last_actions, hidden, mode, t_env, generator)
        result = env.step(actions)
        units.append(env.units(0))
        total += float(result.reward[0])
        obs, last_actions = result.next, actions
        if bool(result.terminated[0] | result.timed_out[0]):
            won = bool(result.won[0])
            break
    return EpisodeFrames(units=units, won=won, episode_return=total)


def _draw(ax, units: dict, title: str) -> None:
    ax.clear()
    width, height = units["map_size"]
    alive = units["alive"]
    colours = np.where(units["team"] == 0, "tab:blue", "tab:red")
    sizes = 40 + 160 * np.clip(units["health"], 0, 1)  # marker area shrinks with health
    ax.scatter(*units["positions"][alive].T, s=sizes[alive], c=colours[alive], edgecolors="black", linewidths=0.5)
    ax.scatter(*units["positions"][~alive].T, s=30, c="lightgrey", marker="x")
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def animate(episodes: dict[str, EpisodeFrames], zoom: float = 1.0, fps: int = 6) -> bytes:
    """Side-by-side animation of the episodes (blue: our agents, red: the enemy; marker size = health).

    Returns the bytes of an animated GIF (show it with ``IPython.display.Image(data=..., format="gif")``).
    A finished episode holds its last frame while the longer ones go on.
    """
    fig, axes = plt.subplots(1, len(episodes), figsize=(2.6 * len(episodes), 2.8), squeeze=False)
    n_frames = max(len(e.units) for e in episodes.values())
    # zoom on the part of the map where anything happens
    points = np.concatenate([u["positions"] for e in episodes.values() for u in e.units])
    low, high = points.min(axis=0) - 2, points.max(axis=0) + 2

    def frame(t: int):
        for ax, (label, episode) in zip(axes[0], episodes.items()):
            units = episode.units[min(t, len(episode.units) - 1)]
            ending = ("won" if episode.won else "lost") if t >= len(episode.units) - 1 else f"step {t}"
            _draw(ax, units, f"{label}\n{ending}")
            ax.set_xlim(low[0], high[0])
            ax.set_ylim(low[1], high[1])
        return []

    fig.tight_layout()
    animation = FuncAnimation(fig, frame, frames=n_frames + 4)  # hold the end for a moment
    data = _gif_bytes(animation, fps, dpi=int(60 * zoom))
    plt.close(fig)
    return data


def _gif_bytes(animation: FuncAnimation, fps: int, dpi: int) -> bytes:
    """Pillow writes GIFs to a file name: write a temporary one and return its bytes."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "episode.gif"
        animation.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
        return path.read_bytes()
