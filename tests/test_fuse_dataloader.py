"""A PyTorch DataLoader with worker processes reads a dataset from the mount, every byte checked."""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from fuse_support import Mount, cleanup

N_FILES = 1000


def sample(i: int) -> bytes:
    """File i's content: 1-48 KiB, different for every file."""
    seed = hashlib.sha256(str(i).encode()).digest()
    size = 1024 + (int.from_bytes(seed[:4], "big") % (47 * 1024))
    return (seed * (size // len(seed) + 1))[:size]


class MountedFiles(Dataset):
    """What an ML dataset class typically does: open a file by path and read it whole."""

    def __init__(self, root: Path) -> None:
        self.paths = [root / f"class{i % 10}" / f"img-{i:05d}.bin" for i in range(N_FILES)]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        return i, torch.frombuffer(bytearray(self.paths[i].read_bytes()), dtype=torch.uint8)


def test_dataloader_with_two_workers_reads_every_byte(tmp_path: Path) -> None:
    writer = Mount(tmp_path, "data", "--create-bucket")
    try:
        root = writer.start().mnt
        for i in range(N_FILES):
            d = root / f"class{i % 10}"
            d.mkdir(exist_ok=True)
            (d / f"img-{i:05d}.bin").write_bytes(sample(i))
    finally:
        writer.stop()
    reader = Mount(tmp_path, "data", "--preset", "ml")  # the read-mostly preset a training job would use
    try:
        loader = DataLoader(MountedFiles(reader.start().mnt), batch_size=None, shuffle=True, num_workers=2)
        seen = set()
        for i, tensor in loader:
            assert bytes(tensor.tolist()) == sample(int(i)), f"file {int(i)} differs"
            seen.add(int(i))
        assert seen == set(range(N_FILES))
    finally:
        reader.stop()
        cleanup(tmp_path)
