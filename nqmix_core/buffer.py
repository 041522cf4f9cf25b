"""The episode replay buffer (Alg. 1 lines 3–4): whole episodes, kept on the run's device.

``EpisodeBatch`` (B episodes in pymarl's layout [B, T, N, ...]) lives in ``nqmix_core.specs``.
"""
from __future__ import annotations

import os
from dataclasses import fields

import torch

from nqmix_core.errors import UserError
from nqmix_core.specs import EnvInfo, EpisodeBatch, empty_batch


INITIAL_SLOTS = 256
"""Episodes the replay storage holds before it first grows."""


def episode_bytes(info: EnvInfo) -> int:
    """Bytes one stored episode takes: one slot of an [1, T, ...] ``empty_batch``, plus its length."""
    one = empty_batch(1, info, "meta")  # shapes and dtypes only, no memory
    return sum(getattr(one, f.name).nelement() * getattr(one, f.name).element_size() for f in fields(EpisodeBatch)) + 8


def memory_bytes(device: torch.device | str) -> int | None:
    """The memory of ``device`` (the machine's RAM for the CPU), or None when it cannot be read."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    if device.type == "cpu" and hasattr(os, "sysconf"):
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            return None
    return None


def check_fits(capacity: int, info: EnvInfo, device: torch.device | str) -> None:
    """A one-sentence UserError when a full replay of ``capacity`` episodes would exceed the device's memory."""
    have, per_episode = memory_bytes(device), episode_bytes(info)
    need = capacity * per_episode
    if have is not None and need > have:
        fits = max(1, have // per_episode // 2)
        raise UserError(f"A replay of {capacity} episodes needs about {need / 2**30:,.0f} GiB when full, more than the "
                        f"{have / 2**30:,.0f} GiB of {device}; lower buffer_size (e.g. --set buffer_size={fits}).")


class EpisodeBuffer:
    """Ring buffer of whole episodes kept on ``device``.

    Episode lengths are also kept on the CPU, so sampling can cut a batch to its longest episode
    without a host-device sync (padding costs as much compute as real steps).
    """

    def __init__(self, capacity: int, info: EnvInfo, device: torch.device | str) -> None:
        check_fits(capacity, info, device)
        self.capacity, self.info, self.device = capacity, info, device
        self.storage = empty_batch(min(capacity, INITIAL_SLOTS), info, device)  # grows as episodes arrive
        self.lengths = torch.zeros(capacity, dtype=torch.long)  # CPU
        self.next_index = 0
        self.size = 0

    def _reserve(self, n_slots: int) -> None:
        """Grow the storage (at least doubling, at most to ``capacity``) until it has ``n_slots`` slots.

        Preallocating all 5,000 episodes of pymarl's buffer would take 5.7 GB on 3s5z before the
        first step; growing keeps memory to what the run has collected.
        """
        allocated = self.storage.n_episodes
        if n_slots <= allocated:
            return
        bigger = empty_batch(min(self.capacity, max(n_slots, 2 * allocated)), self.info, self.device)
        for f in fields(EpisodeBatch):
            getattr(bigger, f.name)[:allocated] = getattr(self.storage, f.name)
        self.storage = bigger

    def __len__(self) -> int:
        return self.size

    def insert(self, batch: EpisodeBatch, lengths: torch.Tensor) -> None:
        """Store the episodes of ``batch`` ([E, T, ...]) with their lengths ([E], any device)."""
        n = batch.n_episodes
        self._reserve(min(self.next_index + n, self.capacity))  # slots fill from 0 until the ring wraps
        slots = (self.next_index + torch.arange(n)) % self.capacity  # [E] CPU
        device_slots = slots.to(self.storage.reward.device)
        for f in fields(EpisodeBatch):
            getattr(self.storage, f.name)[device_slots] = getattr(batch, f.name)
        self.lengths[slots] = lengths.cpu()  # one transfer per collected batch
        self.next_index = (self.next_index + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def can_sample(self, batch_size: int) -> bool:
        return self.size >= batch_size

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> EpisodeBatch:
        """A uniform random mini-batch of distinct episodes, cut to its longest episode."""
        picks = torch.randperm(self.size, generator=generator)[:batch_size]  # [B] CPU
        n_steps = int(self.lengths[picks].max())
        batch = self.storage.map(lambda x: x[picks.to(x.device)])
        return batch.trim(n_steps)

    def state_dict(self) -> dict:
        """Everything needed to restore the buffer exactly (for resumable runs).

        Only the stored episodes and the time steps any of them reached are saved: slots past
        ``size`` and steps past the longest episode hold zeros, and a fresh buffer has them too.
        (Saving the whole storage at capacity made a 3s5z checkpoint 5.7 GB.)
        """
        steps = int(self.lengths[:self.size].max()) + 1 if self.size else 0  # obs/state/avail need T+1
        tensors = {f.name: getattr(self.storage, f.name)[:self.size, :steps] for f in fields(EpisodeBatch)}
        return {**tensors, "lengths": self.lengths, "next_index": self.next_index, "size": self.size}

    def load_state_dict(self, state: dict) -> None:
        """Restore into a fresh buffer of the same capacity and sizes (what ``state_dict`` wrote)."""
        self._reserve(int(state["size"]))
        for f in fields(EpisodeBatch):
            saved = state[f.name]  # [size, steps, ...]: a leading block of the storage
            getattr(self.storage, f.name)[:saved.shape[0], :saved.shape[1]].copy_(saved)
        self.lengths.copy_(state["lengths"])
        self.next_index, self.size = int(state["next_index"]), int(state["size"])
