"""Inode numbers: one per (bucket, key) path while the kernel knows it, never reused; forgotten ones are dropped."""
from __future__ import annotations

import errno
from dataclasses import dataclass

import pyfuse3

from .errnos import fail

ROOT_INO = pyfuse3.ROOT_INODE
MAX_NAME = 255


def representable(name: str) -> bool:
    """Can this key component be a path component? (Mountpoint's rule: hide what cannot.)"""
    return bool(name) and name not in (".", "..") and "\0" not in name and len(name.encode()) <= MAX_NAME


@dataclass(slots=True)
class Node:
    """A path in the mount. `bucket` None is the all-buckets root; `key` has no trailing slash."""

    ino: int
    bucket: str | None
    key: str
    kind: str = "dir"            # "dir" | "file" | "link"
    lookups: int = 0

    @property
    def prefix(self) -> str:
        """The key prefix of this node's children."""
        return f"{self.key}/" if self.key else ""

    @property
    def is_bucket_root(self) -> bool:
        return self.bucket is not None and self.key == ""


class InodeTable:
    def __init__(self, bucket: str | None, key: str) -> None:
        self._next = ROOT_INO + 1
        self.root = Node(ROOT_INO, bucket, key.strip("/"), "dir")
        self._by_ino: dict[int, Node] = {ROOT_INO: self.root}
        self._by_path: dict[tuple[str | None, str], int] = {(bucket, self.root.key): ROOT_INO}

    def get(self, ino: int) -> Node:
        node = self._by_ino.get(ino)
        if node is None:
            raise fail(errno.ENOENT)
        return node

    def child_path(self, parent: Node, name: str) -> tuple[str, str]:
        """(bucket, key) of `name` inside `parent`."""
        if parent.kind != "dir":
            raise fail(errno.ENOTDIR)
        if parent.bucket is None:
            return name, ""
        return parent.bucket, parent.prefix + name

    def node(self, bucket: str, key: str, kind: str) -> Node:
        """The node of a path, created with a fresh number the first time the path is seen."""
        ino = self._by_path.get((bucket, key))
        if ino is None:
            ino = self._next
            self._next += 1
            self._by_path[(bucket, key)] = ino
            self._by_ino[ino] = Node(ino, bucket, key, kind)
        node = self._by_ino[ino]
        node.kind = kind
        return node

    def find(self, bucket: str, key: str) -> Node | None:
        ino = self._by_path.get((bucket, key))
        return self._by_ino.get(ino) if ino is not None else None

    def parent(self, node: Node) -> Node | None:
        """The directory holding `node`, if the mount still knows it (the kernel keeps parents of what it caches)."""
        if node.bucket is None:
            return None
        if node.key == "":
            return self.root if self.root.bucket is None else None
        parent_key = node.key.rpartition("/")[0]
        return self.find(node.bucket, parent_key)

    def move(self, bucket: str, src: str, dst: str, is_dir: bool) -> None:
        """Keep numbers across a rename: the node (and, for a directory, every descendant) moves."""
        moves: list[tuple[str | None, str]] = [(bucket, src)]
        if is_dir:
            pre = src + "/"
            moves += [p for p in self._by_path if p[0] == bucket and p[1].startswith(pre)]
        for b, k in moves:
            ino = self._by_path.pop((b, k), None)
            if ino is None:
                continue
            new_key = dst + k[len(src):]
            stale = self._by_path.pop((b, new_key), None)
            if stale is not None and stale != ino:
                self._by_ino[stale].key = f"\0stale/{stale}"  # the replaced target keeps no path
            self._by_path[(b, new_key)] = ino
            self._by_ino[ino].key = new_key

    def detach(self, bucket: str, key: str) -> None:
        """The path was removed here: its node keeps serving open handles, a new file there gets a new number
        (so the kernel never mixes an unlinked file's cached pages with its successor's)."""
        ino = self._by_path.pop((bucket, key), None)
        if ino is not None:
            self._by_ino[ino].key = f"\0stale/{ino}"

    def forget(self, ino: int, n: int) -> bool:
        """Count down the kernel's references; True when none is left (the root is never let go)."""
        node = self._by_ino.get(ino)
        if node is None:
            return False
        node.lookups = max(0, node.lookups - n)
        return node.lookups == 0 and ino != ROOT_INO

    def drop(self, ino: int) -> None:
        """Forget a node the kernel no longer references, so memory follows what the kernel caches, not
        every name ever seen; the path gets a fresh number if it is looked up again."""
        node = self._by_ino.pop(ino, None)
        if node is not None and self._by_path.get((node.bucket, node.key)) == ino:
            del self._by_path[(node.bucket, node.key)]

    def revive(self, node: Node) -> Node:
        """The live node for a node handed out again from a listing built earlier: itself, re-entered if it
        was dropped meanwhile, or the path's newer node."""
        if self._by_ino.get(node.ino) is node:
            return node
        assert node.bucket is not None
        current = self.find(node.bucket, node.key)
        if current is not None:
            return current
        self._by_ino[node.ino] = node
        if not node.key.startswith("\0stale/"):
            self._by_path[(node.bucket, node.key)] = node.ino
        return node
