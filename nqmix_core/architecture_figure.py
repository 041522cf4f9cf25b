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
LANE_TITLES = {"mixer": "mixer (Fig. 1a)", "agent": "agent network (Fig. 1b),\nshared by all agents",
               "actors": "actors (Fig. 1b),\none per agent"}
INPUT_NAMES = {"mixer": ("", "$s_t$"), "agent": ("$[o_t^a, u_{t-1}^a, a]$",), "actors": ("", "available")}
OUTPUT_NAMES = {"mixer": "$Q_{tot}$", "agent": r"$Q_a(\tau_t, \cdot)$", "actors": r"$\pi_a(\cdot|\tau_t)$"}
BOX_WIDTH, BOX_HEIGHT = 0.9, 0.5  # in columns and lanes
MARGIN = -2.2  # left edge of the lane titles, in columns (the agent lane's first layer is column 0)


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


def format_shapes(shapes: tuple[tuple[int, ...], ...]) -> str:
    return ", ".join("[" + ", ".join(str(d) for d in shape) + "]" for shape in shapes)


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


def _box(ax, x: float, y: float, text: str, **style) -> None:
    ax.add_patch(FancyBboxPatch((x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2), BOX_WIDTH, BOX_HEIGHT,
                                boxstyle="round,pad=0.02", **style))
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "lw": 1.2})
    vertical = start[0] == end[0]
    ax.text((start[0] + end[0]) / 2 + 0.03 * vertical, (start[1] + end[1]) / 2 + 0.03, text, fontsize=7.5,
            ha="left" if vertical else "center", va="center" if vertical else "bottom", color="0.25")


def _shape_lines(call: ModuleCall) -> str:
    return f"{format_shapes(call.inputs)}\n→ {format_shapes(call.outputs)}"


def _draw_lane(ax, calls: dict[str, ModuleCall], lane: str, positions) -> None:
    """The lane's title (the whole network's call) in the left margin, a dashed frame, one box per
    layer, the arrows between them, and the lane's outside inputs and its output."""
    layers, whole = lane_layers(calls, lane), calls[lane]
    xs = [positions[call.path][0] for call in layers]
    left, right, y = min(xs) - BOX_WIDTH / 2, max(xs) + BOX_WIDTH / 2, positions[layers[0].path][1]
    ax.text(MARGIN, y, f"{LANE_TITLES[lane]}\n{whole.class_name}\n{_shape_lines(whole)}", fontsize=8,
            va="center", ha="left", weight="bold")
    ax.add_patch(FancyBboxPatch((left - 0.04, y - BOX_HEIGHT / 2 - 0.06), right - left + 0.08, BOX_HEIGHT + 0.12,
                                boxstyle="round,pad=0.02", fc="0.94", ec="0.6", ls="--"))
    for call in layers:
        _box(ax, *positions[call.path], f"{call.path.split('.', 1)[1]}: {call.class_name}\n{_shape_lines(call)}",
             fc="white", ec="0.2")
    for a, b in zip(layers, layers[1:]):
        _arrow(ax, (positions[a.path][0] + BOX_WIDTH / 2, y), (positions[b.path][0] - BOX_WIDTH / 2, y))
    for name, shape in zip(INPUT_NAMES[lane], whole.inputs):
        if name:  # from outside the diagram; an input from another lane is a FLOWS arrow
            _arrow(ax, (left - 0.55, y), (left - 0.04, y), f"{name}\n{format_shapes((shape,))}")
    _arrow(ax, (right + 0.04, y), (right + 0.4, y), f"{OUTPUT_NAMES[lane]}\n{format_shapes(whole.outputs[:1])}")


def draw_architecture(calls: dict[str, ModuleCall], sizes: dict[str, int] | None = None) -> plt.Figure:
    """Figure 1 from recorded calls: one lane per network, one box per layer, arrows for the data flow.

    ``sizes`` (e.g. ``{"B": 16, "N": 5}``) is written under the diagram as a key to the shapes.
    """
    positions = layout(calls)
    last_column = max(x for x, _ in positions.values())
    fig, ax = plt.subplots(figsize=(1.9 * (last_column + 1 - MARGIN), 1.8 * len(LANES)))
    for lane in LANES:
        _draw_lane(ax, calls, lane, positions)
    for lane, (source, index, what) in FLOWS.items():
        sx, sy = positions[lane_layers(calls, source)[index].path]
        tx, ty = positions[lane_layers(calls, lane)[0].path]
        step = BOX_HEIGHT / 2 if ty > sy else -BOX_HEIGHT / 2
        _arrow(ax, (sx, sy + step), (tx, ty - step - 0.06 * (1 if step > 0 else -1)),
               f"{what}\n{format_shapes(calls[lane].inputs[:1])}")
    if sizes:
        ax.text(MARGIN, -0.6, "   ".join(f"{name} = {value}" for name, value in sizes.items()), fontsize=8)
    ax.set_xlim(MARGIN - 0.05, last_column + 1.0)
    ax.set_ylim(-0.75, len(LANES) - 0.6)
    ax.axis("off")
    fig.tight_layout()
    return fig
