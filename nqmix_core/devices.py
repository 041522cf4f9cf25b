"""Which torch device a run uses: the one helper the CLI, the experiment loop and the notebooks share."""
from __future__ import annotations

import torch

from nqmix_core.errors import UserError


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; otherwise the named device, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"Unknown device {name!r}; use auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"Device {name!r} was requested but PyTorch sees no CUDA GPU; use --device cpu.")
    try:  # e.g. "mps" on a build without Metal, or "cuda:7" on a machine with one GPU
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError, ValueError):
        raise UserError(f"This PyTorch build cannot use device {name!r} on this machine; use --device cpu or auto.") from None
    return device
