"""Getting batches of an in-memory tensor data set onto the device, fast.

The choices (`DataPathOptions`) are the usual ones for GPU machines: DataLoader
processes, pinned memory, persistent loader processes, prefetching the next
batch to the GPU on a side stream while the current one trains, or holding the
whole (small) data set on the GPU; plus random-crop-and-flip augmentation done
on the device, and channels-last inputs. Every path yields exactly the same
batches for the same generator: the data order and the augmentation draws come
from the epoch's CPU generator, whatever the path, so an option changes speed,
not results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Sampler, TensorDataset

Batch = tuple[torch.Tensor, torch.Tensor]
CROP_PADDING = 4


@dataclass(frozen=True)
class DataPathOptions:
    """How a worker feeds its model; recorded with every trial (see `effective`)."""

    loader_workers: int = 0
    """DataLoader processes; 0 gathers batches in the worker itself, fastest for in-memory tensors."""
    pin_memory: bool = True
    """Page-locked host batches (CUDA only), so copies to the GPU run asynchronously."""
    persistent_workers: bool = False
    """Keep the loader processes alive across epochs and trials (with loader_workers > 0)."""
    prefetch_factor: int | None = None
    """Batches each loader process prepares ahead (DataLoader's default: 2)."""
    gpu_prefetch: bool = True
    """Copy the next batch to the GPU on a side stream while the current one trains (CUDA only)."""
    on_device: bool = False
    """Hold the training set on the device as tensors (small data sets on a GPU): no loader at all."""
    augment: bool = False
    """Random crop (padding 4) and horizontal flip, done where the batch is (on the GPU there)."""
    channels_last: bool = False
    """Channels-last memory format for images and convolutional models (faster with AMP on tensor cores)."""
    compile: bool = False
    """Wrap the model in torch.compile."""

    def __post_init__(self) -> None:
        if self.loader_workers < 0:
            raise ValueError(f"loader_workers must be >= 0, got {self.loader_workers}")
        if self.prefetch_factor is not None and self.prefetch_factor < 1:
            raise ValueError(f"prefetch_factor must be >= 1, got {self.prefetch_factor}")
        if self.on_device and self.loader_workers:
            raise ValueError("on_device holds the data on the device: it takes no loader_workers")
        if (self.persistent_workers or self.prefetch_factor) and not self.loader_workers:
            raise ValueError("persistent_workers and prefetch_factor need loader_workers > 0")

    def effective(self, device: torch.device) -> dict[str, Any]:
        """The options as they act on `device` (pinning and GPU prefetch do nothing on a CPU)."""
        cuda = device.type == "cuda"
        chosen = asdict(self)
        chosen["pin_memory"] = self.pin_memory and cuda and not self.on_device
        chosen["gpu_prefetch"] = self.gpu_prefetch and cuda and not self.on_device
        return chosen


class _EpochBatches(Sampler[torch.Tensor]):
    """Yields the index tensors of the current epoch's batches; set before each epoch.

    One DataLoader (and with persistent workers, one set of processes) then
    serves every epoch and trial: the sampler runs in the main process, so
    changing it between epochs is seen by the loader processes.
    """

    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class TensorBatches:
    """Shuffled full batches of (images, labels) tensors, delivered on `device`."""

    def __init__(self, dataset: TensorDataset, options: DataPathOptions, device: torch.device) -> None:
        self.options = options
        self.device = device
        self.size = len(dataset)
        self._pin = options.effective(device)["pin_memory"]
        self._loader: DataLoader | None = None
        x, y = dataset.tensors
        # On the device, or in host memory gathered here: a DataLoader only pays
        # off with loader processes, for in-memory tensors.
        self._tensors = (x.to(device), y.to(device)) if options.on_device else (x, y)
        if not options.loader_workers:
            return
        self._sampler = _EpochBatches()
        self._loader = DataLoader(
            dataset,
            sampler=self._sampler,
            batch_size=None,  # the sampler yields whole index tensors: one gather per batch
            num_workers=options.loader_workers,
            pin_memory=self._pin,
            persistent_workers=options.persistent_workers,
            prefetch_factor=options.prefetch_factor,
            # Seeds of the loader processes come from here, not from the global
            # RNG, so the data path never changes what dropout or init draw.
            generator=torch.Generator().manual_seed(0),
        )

    def examples_per_epoch(self, batch_size: int) -> int:
        batch_size = min(batch_size, self.size)
        return self.size - self.size % batch_size

    def epoch(
        self,
        batch_size: int,
        generator: torch.Generator,
        shard: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> Iterator[Batch]:
        """One epoch: a permutation from `generator` cut into full batches (a short last one is
        dropped); `shard` keeps this rank's part of each batch (`TrialContext.shard`)."""
        batch_size = min(batch_size, self.size)
        perm = torch.randperm(self.size, generator=generator)
        index_batches = list(perm[: self.examples_per_epoch(batch_size)].split(batch_size))
        if shard is not None:
            index_batches = [shard(idx) for idx in index_batches]
        batches: Iterator[Batch]
        if self.options.on_device:
            x_all, y_all = self._tensors
            batches = ((x_all[i], y_all[i]) for i in (idx.to(self.device, non_blocking=True) for idx in index_batches))
        elif self._loader is not None:
            self._sampler.batches = index_batches
            batches = self._to_device(iter(self._loader))
        else:
            batches = self._to_device(self._gather(index_batches))
        for x, y in batches:
            if self.options.augment:
                x = random_crop_flip(x, generator)
            yield self.prepare(x), y

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Images as the model wants them (channels-last when chosen)."""
        if self.options.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def _gather(self, index_batches: list[torch.Tensor]) -> Iterator[Batch]:
        x_all, y_all = self._tensors
        for idx in index_batches:
            x, y = x_all[idx], y_all[idx]
            yield (x.pin_memory(), y.pin_memory()) if self._pin else (x, y)

    def _to_device(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        if not self.options.effective(self.device)["gpu_prefetch"]:
            for x, y in batches:
                yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            return
        yield from _prefetched(batches, self.device)


def _prefetched(batches: Iterator[Batch], device: torch.device) -> Iterator[Batch]:
    """Copies batch k+1 to the GPU on a side stream while batch k trains."""
    stream = torch.cuda.Stream(device)

    def start_copy(batch: Batch) -> Batch:
        with torch.cuda.stream(stream):
            return tuple(t.to(device, non_blocking=True) for t in batch)  # type: ignore[return-value]

    upcoming = next(batches, None)
    pending = start_copy(upcoming) if upcoming is not None else None
    while pending is not None:
        current = torch.cuda.current_stream(device)
        current.wait_stream(stream)
        for t in pending:
            t.record_stream(current)  # the side stream's memory is used on this one now
        ready = pending
        upcoming = next(batches, None)
        pending = start_copy(upcoming) if upcoming is not None else None
        yield ready


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = CROP_PADDING) -> torch.Tensor:
    """Random crops of zero-padded images and horizontal flips, computed on x's device.

    The draws come from the CPU `generator` (a few numbers per image), so the
    result is the same on every device and data path.
    """
    n, _, height, width = x.shape
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator).to(x.device)
    flips = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(height, device=x.device)  # n x H
    cols = offsets[1, :, None] + torch.arange(width, device=x.device)  # n x W
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    images = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indices around a slice put their dimensions first: n x H x W x C.
    return padded[images, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
