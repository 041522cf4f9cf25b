"""The paper's Figure 1 (NQMIX's architecture), drawn from the learner's real modules.

``capture_calls`` runs one ``learner.compute_losses(batch)`` with forward hooks on the online networks
of Fig. 1 (the shared agent network, the per-agent actors, the mixer) and on each of their layers, and
records the class name and the input/output tensor shapes of each module's first call.
``draw_architecture`` turns those records into a box-and-arrow diagram whose every label is a
recorded class name or shape, so the picture changes when the code does.

| lane (learner attribute) | Fig. 1 | reads                                   | gives             |
|--------------------------|--------|-----------------------------------------|-------------------|
| ``mixer``                | (a)    | chosen Q_a(τ_t, u_t) [B, T, N], s_t [B, T, S] | Q_tot [B, T]  |
| ``agent`` (shared)       | (b)    | [o_t, u_{t−1}, id] [B, T+1, N, D]       | Q_a(τ_t, ·), h_t  |
| ``actors`` (one per agent) | (b)  | h_t^a [B, T, N, H] (detached)           | π_a(·|τ_t) [B, T, N, U] |

Activations (ReLU, ELU, the masked softmax) are function calls, not modules, so they have no box.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyBboxPatch
from torch import nn

LANES = ("mixer", "agent", "actors")  # top to bottom; each is an attribute of the learner
FLOWS = {"mixer": ("agent", -1, r"chosen $Q_a(\tau_t, u_t)$"),  # lane: (source lane, source layer, what)
         "actors": ("agent", 1, r"$h_t^a$ (detached)")}
LANE_TITLES = {"mixer": "the mixer (Fig. 1a)", "agent": "shared (Fig. 1b)", "actors": "one per agent (Fig. 1b)"}
INPUT_NAMES = {"mixer": ("", "$s_t$"), "agent": ("$[o_t^a, u_{t-1}^a, a]$",), "actors": ("", "available")}
OUTPUT_NAMES = {"mixer": "$Q_{tot}$", "agent": r"$Q_a(\tau_t, \cdot)$", "actors": r"$\pi_a(\cdot|\tau_t)$"}
BOX_WIDTH, BOX_HEIGHT = 0.92, 0.5  # in columns and lanes
LEFT = -1.5  # left edge of the drawing, in columns (the agent lane's first layer is column 0)
FIGURE_WIDTH = 9.0  # inches: shown at its own size in a notebook, so 10-point text stays 10 points
FONT, SMALL = 10, 9.5  # points: titles and arrows; the lines inside a box
OUT_ARROW = 0.85  # length of a lane's output arrow, in columns

@dataclass(frozen=True)
class ModuleCall:
    """One module's first call: ``path`` as ``lane.layer`` (``lane`` for the whole network)."""

    path: str
    class_name: str
    inputs: tuple[tuple[int, ...], ...]
    outputs: tuple[tuple[int, ...], ...]

    @property
    def label(self) -> str:
        """``Class  [in] → [out]``, e.g. ``GRU  [80, 72, 64] → [80, 72, 64], [1, 80, 64]``."""
        return f"{self.class_name}  {format_shapes(self.inputs)} → {format_shapes(self.outputs)}"


def format_shapes(shapes: tuple[tuple[int, ...], ...], sizes: dict[str, int] | None = None) -> str:
    """``[16, 72, 5, 142]``, or with ``sizes`` (symbol -> value, first match wins) ``[B, T+1, N, D]``; a
    dimension no symbol matches stays a number."""
    symbol = {}
    for name, value in (sizes or {}).items():
        symbol.setdefault(value, name)
    return ", ".join("[" + ", ".join(symbol.get(d, str(d)) for d in shape) + "]" for shape in shapes)


def tensor_shapes(value) -> tuple[tuple[int, ...], ...]:
    """Shapes of the tensors in a forward's arguments or result (tuples and lists are walked)."""
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape),)
    if isinstance(value, (tuple, list)):
        return tuple(shape for item in value for shape in tensor_shapes(item))
    return ()


def capture_calls(learner: nn.Module, batch) -> dict[str, ModuleCall]:
    """Run ``learner.compute_losses(batch)`` once with forward hooks on the lanes' modules.

    Returns the first call of every module, keyed by path (``"agent"``, ``"agent.gru"``, …), in the
    order the calls finished; layers therefore come in the order the forward pass used them.
    """
    calls: dict[str, ModuleCall] = {}

    def recorder(path: str):
        def hook(module, args, output):
            calls.setdefault(path, ModuleCall(path, type(module).__name__, tensor_shapes(args),
                                              tensor_shapes(output)))
        return hook

    handles = [module.register_forward_hook(recorder(f"{lane}.{name}" if name else lane))
               for lane in LANES for name, module in getattr(learner, lane).named_modules()]
    try:
        learner.compute_losses(batch)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def lane_layers(calls: dict[str, ModuleCall], lane: str) -> list[ModuleCall]:
    """The direct layers of one lane, in the order they ran."""
    return [call for path, call in calls.items() if path.startswith(lane + ".") and path.count(".") == 1]


def layout(calls: dict[str, ModuleCall]) -> dict[str, tuple[float, float]]:
    """Column and row of every layer box: the agent lane starts at column 0; a lane fed by another
    starts under or over the layer that feeds it (``FLOWS``)."""
    rows = {lane: len(LANES) - 1 - i for i, lane in enumerate(LANES)}
    positions = {call.path: (float(i), rows["agent"]) for i, call in enumerate(lane_layers(calls, "agent"))}
    for lane, (source, index, _) in FLOWS.items():
        start = positions[lane_layers(calls, source)[index].path][0]
        positions |= {call.path: (start + i, rows[lane]) for i, call in enumerate(lane_layers(calls, lane))}
    return positions


def _box(ax, x: float, y: float, text: str, width: float = BOX_WIDTH, **style) -> None:
    ax.add_patch(FancyBboxPatch((x - width / 2, y - BOX_HEIGHT / 2), width, BOX_HEIGHT,
                                boxstyle="round,pad=0.02", **style))
    ax.text(x, y, text, ha="center", va="center", fontsize=SMALL)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str = "", **style) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "lw": 1.3, **style})
    vertical = start[0] == end[0]
    ax.text((start[0] + end[0]) / 2 + 0.04 * vertical, (start[1] + end[1]) / 2 + 0.03 * (not vertical), text,
            fontsize=FONT, ha="left" if vertical else "center", va="center" if vertical else "bottom", color="0.2")


def _box_text(call: ModuleCall, sizes) -> str:
    """``name: Class`` (two lines if long), the input shapes, and ``→`` the output shapes, one per line."""
    name = call.path.split(".", 1)[1]
    title = f"{name}: {call.class_name}" if len(name) + len(call.class_name) < 14 else f"{name}:\n{call.class_name}"
    outputs = ",\n".join(format_shapes((shape,), sizes) for shape in call.outputs)
    return f"{title}\n{format_shapes(call.inputs, sizes)}\n→ {outputs}"


def _draw_lane(ax, calls: dict[str, ModuleCall], lane: str, positions, sizes) -> float:
    """A dashed frame titled with the network's class, one box per layer, the arrows between them, the
    lane's outside inputs and (except for the actors, whose π goes to the actor objective) its output.
    Returns the right edge of the frame."""
    layers, whole = lane_layers(calls, lane), calls[lane]
    xs = [positions[call.path][0] for call in layers]
    left, right, y = min(xs) - BOX_WIDTH / 2, max(xs) + BOX_WIDTH / 2, positions[layers[0].path][1]
    above = lane != "actors"  # the actors' title goes under their frame, clear of the arrow from the GRU
    ax.text(left - 0.04, y + (1 if above else -1) * (BOX_HEIGHT / 2 + 0.09), f"{whole.class_name}, {LANE_TITLES[lane]}",
            fontsize=FONT, weight="bold", ha="left", va="bottom" if above else "top")
    ax.add_patch(FancyBboxPatch((left - 0.04, y - BOX_HEIGHT / 2 - 0.06), right - left + 0.08, BOX_HEIGHT + 0.12,
                                boxstyle="round,pad=0.02", fc="0.94", ec="0.6", ls="--"))
    for call in layers:
        _box(ax, *positions[call.path], _box_text(call, sizes), fc="white", ec="0.2")
    for a, b in zip(layers, layers[1:]):
        _arrow(ax, (positions[a.path][0] + BOX_WIDTH / 2, y), (positions[b.path][0] - BOX_WIDTH / 2, y))
    for name, shape in zip(INPUT_NAMES[lane], whole.inputs):
        if name:  # from outside the diagram; an input from another lane is a FLOWS arrow
            _arrow(ax, (left - 0.95, y), (left - 0.06, y), f"{name}\n{format_shapes((shape,), sizes)}")
    if lane != "actors":
        _arrow(ax, (right + 0.06, y), (right + OUT_ARROW, y),
               f"{OUTPUT_NAMES[lane]}\n{format_shapes(whole.outputs[:1], sizes)}")
    return right + 0.04


def _draw_actor_objective(ax, calls, positions, rights, sizes) -> float:
    """The end of the actor path, Eq. 13: π_a from the actors, Q_a from the agent network and the sign of
    ∂Q_tot/∂Q_a (autograd through the mixer) meet in the actor objective. Returns the drawing's right end."""
    rows = {lane: positions[lane_layers(calls, lane)[0].path][1] for lane in LANES}
    y, width = rows["actors"], 1.25
    x = rights["actors"] + OUT_ARROW + width / 2
    _box(ax, x, y, "actor objective\n(Eq. 13)\n" r"$\Sigma\, \mathrm{sgn}_a\, \gamma^t \Sigma_u \pi_a Q_a$" "\n→ a number",
         width=width, fc="#fff4e0", ec="0.2")
    _arrow(ax, (rights["actors"] + 0.02, y), (x - width / 2, y),
           f"{OUTPUT_NAMES['actors']}\n{format_shapes(calls['actors'].outputs[:1], sizes)}")
    agent_end = rights["agent"] + OUT_ARROW
    ax.annotate("", xy=(x - 0.3, y + BOX_HEIGHT / 2), xytext=(agent_end - 0.1, rows["agent"] - 0.05),
                arrowprops={"arrowstyle": "->", "lw": 1.3})
    ax.text((agent_end + x) / 2 - 0.2, (rows["agent"] + y) / 2, "$Q_a$ (detached)", fontsize=FONT, ha="right",
            va="center", color="0.2")
    sign_x = rights["mixer"] + OUT_ARROW + 0.15
    sign_x = max(sign_x, x + 0.2)
    ax.plot([rights["mixer"] + OUT_ARROW, sign_x], [rows["mixer"]] * 2, ls="--", lw=1.3, color="black")
    ax.annotate("", xy=(sign_x, y + BOX_HEIGHT / 2), xytext=(sign_x, rows["mixer"]),
                arrowprops={"arrowstyle": "->", "lw": 1.3, "ls": "--"})
    ax.text(sign_x + 0.05, (rows["mixer"] + rows["agent"]) / 2, r"sgn $\partial Q_{tot}/\partial Q_a$"
            f"\n{format_shapes(calls['mixer'].inputs[:1], sizes)}\n(autograd)", fontsize=FONT, ha="left",
            va="center", color="0.2")
    return sign_x + 1.05


def draw_architecture(calls: dict[str, ModuleCall], sizes: dict[str, int] | None = None) -> plt.Figure:
    """Figure 1 from recorded calls: one lane per network, one box per layer, arrows for the data flow, and
    the actor path's end (the actor objective, Eq. 13).

    ``sizes`` (symbol -> value, e.g. ``{"B": 16, "T+1": 72, "N": 5}``) writes every shape with symbols, the
    first symbol whose value matches each dimension, and is printed under the diagram as the key; without
    it the shapes are numbers. The figure is ``FIGURE_WIDTH`` inches wide, its text at least ``SMALL`` points.
    """
    positions = layout(calls)
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 2.0 * len(LANES) + (0.5 if sizes else 0.0)))
    rights = {lane: _draw_lane(ax, calls, lane, positions, sizes) for lane in LANES}
    for lane, (source, index, what) in FLOWS.items():
        sx, sy = positions[lane_layers(calls, source)[index].path]
        tx, ty = positions[lane_layers(calls, lane)[0].path]
        step = BOX_HEIGHT / 2 if ty > sy else -BOX_HEIGHT / 2
        _arrow(ax, (sx, sy + step), (tx, ty - step - 0.06 * (1 if step > 0 else -1)),
               f"{what}\n{format_shapes(calls[lane].inputs[:1], sizes)}")
    right_edge = _draw_actor_objective(ax, calls, positions, rights, sizes)
    if sizes:
        key = "   ".join(f"{name} = {value}" for name, value in sizes.items())
        ax.text(LEFT, -0.62, "key: " + key, fontsize=FONT, va="top")
    ax.set_xlim(LEFT, right_edge)
    ax.set_ylim(-0.85 if sizes else -0.6, len(LANES) - 0.5)
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    return fig
