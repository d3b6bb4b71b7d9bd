"""The pyfuse3 Operations: translate each FUSE request into backend calls (rules in docs/semantics.md)."""
from __future__ import annotations

import errno
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from typing import Sequence

import pyfuse3
import trio

from engine.checksum import Cksum
from engine.meta import ObjectMeta
from engine.names import MAX_KEY_BYTES

from . import xattrs
from .attrs import ATIME, CTIME, GID, MODE, MTIME, SYMLINK, UID, MountAttrs, make_attr
from .backend import Backend
from .dirlist import DirEntry, DirPager
from .errnos import fail, fuse_op
from .handles import Handle, WriteState
from .namespace import NamespaceOps
from .inodes import MAX_NAME, ROOT_INO, InodeTable, Node, representable

log = logging.getLogger("aisfs.fuse")

LOCAL_XATTR_NS = ("security.", "system.", "trusted.")
LISTING_CACHE_MIN_TTL = 5.0
DOTS = 2  # `.` and `..` take the first two readdir offsets
NEGATIVE_TTL_MAX = 60.0  # a missing name is remembered at most this long, even with an indefinite TTL

Resolved = tuple[str, ObjectMeta | None]  # (kind, metadata of the object or directory marker)
Entry = tuple[bytes, pyfuse3.EntryAttributes, Node]  # a directory entry as readdir hands it out


def _name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _ident(meta: ObjectMeta) -> tuple[object, ...]:
    return meta.version, meta.etag, meta.size, meta.mtime_ns


def _write_only(flags: int) -> bool:
    """A file opened write-only first (`cp`, `dd`, `tar x`, a shell's `>`) is written with direct_io: the
    kernel hands the writer's pages straight to the daemon instead of first copying them into the mount's
    page cache, a copy and a page allocation per page saved (1 GiB `dd` writes ran 1.1-1.5x faster)."""
    return flags & os.O_ACCMODE == os.O_WRONLY


@dataclass(slots=True)
class DirHandle:
    """An open directory: a paged pass over it (`window` holds offsets base..), or a whole cached listing."""

    node: Node
    pager: DirPager | None = None
    base: int = 0
    window: list[Entry] = field(default_factory=list)
    ended: bool = False
    full: list[Entry] | None = None


class AisOps(NamespaceOps, pyfuse3.Operations):
    """One mount: a bucket (or prefix) as the root, or every bucket as a top-level directory."""

    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(self, backend: Backend, bucket: str | None, prefix: str, defaults: MountAttrs, *,
                 read_only: bool = False, direct_io: bool = False) -> None:
        super().__init__()
        self.direct_io = direct_io  # read handles bypass the page cache: one copy less for large streaming reads
        self.b = backend
        self.d = defaults
        self.read_only = read_only
        self.inodes = InodeTable(bucket, prefix)
        self.handles: dict[int, Handle] = {}
        self.dirs: dict[int, DirHandle] = {}
        self.states: dict[int, WriteState] = {}
        self.seen: dict[int, tuple[object, ...]] = {}
        self._open_locks: dict[int, trio.Lock] = {}
        self._next_fh = 1
        self.nursery: trio.Nursery | None = None  # the daemon's: streaming uploads run there
        self._list_cache: dict[int, tuple[float, list[Entry]]] = {}

    # helpers --------------------------------------------------------------------------------------
    def _fh(self) -> int:
        self._next_fh += 1
        return self._next_fh

    def _writable(self) -> None:
        if self.read_only:
            raise fail(errno.EROFS)

    def _live_state(self, node: Node) -> WriteState | None:
        st = self.states.get(node.ino)
        return st if st is not None and not st.detached else None

    async def _resolve(self, bucket: str, key: str, *, is_root: bool = False) -> Resolved | None:
        """What a path is now: a directory wins over an object of the same name."""
        if key == "":
            return ("dir", None) if await self.b.bucket_exists(bucket) else None
        node = self.inodes.find(bucket, key)
        if node is not None and self._live_state(node) is not None:
            return "file", self.states[node.ino].meta
        if is_root or await self.b.has_prefix(bucket, key + "/"):  # also true for a lone marker `key/`
            return "dir", await self.b.head(bucket, key + "/")
        meta = await self.b.head(bucket, key)
        if meta is None:
            return None
        return ("link" if meta.custom.get(SYMLINK) else "file"), meta

    async def _resolve_node(self, node: Node) -> Resolved | None:
        if node.bucket is None:
            return "dir", None
        return await self._resolve(node.bucket, node.key, is_root=node.ino == ROOT_INO)

    def _attr_of(self, node: Node, kind: str, meta: ObjectMeta | None) -> pyfuse3.EntryAttributes:
        st = self._live_state(node) if kind == "file" else None
        if st is None:
            return make_attr(node.ino, kind, meta, self.d)
        base = st.meta
        t = st.mtime_ns if st.dirty or base is None else base.mtime_ns
        fake = ObjectMeta(bucket=st.bucket, key=st.key, size=st.size, cksum=Cksum("none", ""), version="",
                          etag="", atime_ns=base.atime_ns if base else t, mtime_ns=t, custom=st.custom)
        return make_attr(node.ino, "file", fake, self.d)

    def _stale_attr(self, node: Node) -> pyfuse3.EntryAttributes:
        """fstat of an open file whose name is gone (unlinked or replaced): what its handles still see."""
        st = self.states.get(node.ino)
        meta = st.meta if st is not None else None
        for h in self.handles.values():
            if h.ino == node.ino and h.reader is not None:
                meta = h.reader.meta
        if st is None and meta is None:
            raise fail(errno.ENOENT)
        a = make_attr(node.ino, node.kind, meta, self.d, size=st.size if st is not None else None)
        a.st_nlink = 0
        return a

    async def _getattr(self, node: Node) -> pyfuse3.EntryAttributes:
        if node.key.startswith("\0stale/"):
            return self._stale_attr(node)
        r = await self._resolve_node(node)
        if r is None:
            raise fail(errno.ENOENT)
        node.kind = r[0]
        return self._attr_of(node, *r)

    def _child(self, parent_ino: int, raw: bytes) -> tuple[Node, str, str]:
        parent = self.inodes.get(parent_ino)
        name = _name(raw)
        if len(raw) > MAX_NAME:
            raise fail(errno.ENAMETOOLONG)
        if not representable(name):
            raise fail(errno.ENOENT)
        bucket, key = self.inodes.child_path(parent, name)
        return parent, bucket, key

    @staticmethod
    def _new_key(key: str, *, marker: bool = False) -> None:
        """Refuse at create time a name the store would refuse at close (S3's 1024-byte key limit)."""
        if len((key + ("/" if marker else "")).encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES:
            raise fail(errno.ENAMETOOLONG)

    def _object_key(self, node: Node) -> str:
        """Where a node's metadata lives: the object itself, or a directory's `dir/` marker."""
        return node.key + "/" if node.kind == "dir" else node.key

    # lookup / attributes -------------------------------------------------------------------------
    @fuse_op
    async def lookup(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        _, bucket, key = self._child(parent_inode, name)
        r = await self._resolve(bucket, key)
        if r is None:
            return self._absent()
        node = self.inodes.node(bucket, key, r[0])
        node.lookups += 1
        return self._attr_of(node, *r)

    def _absent(self) -> pyfuse3.EntryAttributes:
        """No such name: inode 0 lets the kernel remember that for the metadata TTL (capped), so repeated
        probes of a missing path (imports, `.git`, globbing) cost no request; creating it here replaces it at once."""
        a = pyfuse3.EntryAttributes()
        a.st_ino = 0
        a.entry_timeout = min(self.d.ttl, NEGATIVE_TTL_MAX)
        return a

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        for ino, n in inode_list:
            if self.inodes.forget(ino, n):
                self._let_go(ino)

    def _let_go(self, ino: int) -> None:
        """Drop what the mount keeps for an inode the kernel forgot, unless a write or handle still uses it."""
        if ino in self.states or any(h.ino == ino for h in self.handles.values()):
            return
        self.inodes.drop(ino)
        self.seen.pop(ino, None)
        self._list_cache.pop(ino, None)
        lock = self._open_locks.get(ino)
        if lock is not None and not lock.locked():
            del self._open_locks[ino]

    @fuse_op
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        return await self._getattr(self.inodes.get(inode))

    @fuse_op
    async def setattr(self, inode: int, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields,
                      fh: int | None, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        self._writable()
        node = self.inodes.get(inode)
        if node.bucket is None or node.is_bucket_root:
            return await self._getattr(node)  # bucket directories keep no attributes
        if fields.update_size:
            await self._truncate(node, attr.st_size)
        updates: dict[str, str] = {}
        if fields.update_mode:
            updates[MODE] = f"{stat.S_IMODE(attr.st_mode):o}"
        if fields.update_uid:
            updates[UID] = str(attr.st_uid)
        if fields.update_gid:
            updates[GID] = str(attr.st_gid)
        if fields.update_mtime:
            updates[MTIME] = str(attr.st_mtime_ns)
        if fields.update_atime:
            updates[ATIME] = str(attr.st_atime_ns)
        if updates:
            updates[CTIME] = str(time.time_ns())
            await self._update_custom(node, set_=updates)
        return await self._getattr(node)

    async def _truncate(self, node: Node, size: int) -> None:
        if node.kind != "file":
            raise fail(errno.EISDIR if node.kind == "dir" else errno.EINVAL)
        st = self._live_state(node)
        if st is not None:
            await st.resize(size)
            return
        assert node.bucket is not None
        meta = await self.b.head(node.bucket, node.key)
        st = await WriteState.load(self.b, node.bucket, node.key, meta, truncate=size == 0)
        try:
            await st.resize(size)
            await st.commit(self.b)
        finally:
            st.close()

    async def _update_custom(self, node: Node, *, set_: dict[str, str] | None = None,
                             remove: str | None = None) -> None:
        """Change user metadata: on the pending content if the file is being written, else in place."""
        assert node.bucket is not None
        st = self._live_state(node) if node.kind == "file" else None
        if st is not None:
            async with st.lock:  # not while a commit is uploading: it took its copy of the metadata already
                if remove is not None:
                    if remove not in st.custom:
                        raise fail(errno.ENODATA)
                    st.custom.pop(remove)
                st.custom.update(set_ or {})
                if st.dirty or st.meta is None:
                    return  # applied by the commit
        key = self._object_key(node)
        meta = await self.b.head(node.bucket, key)
        if meta is None:
            if node.kind != "dir" or remove is not None:
                raise fail(errno.ENODATA if remove is not None else errno.ENOENT)
            await self.b.put(node.bucket, key, b"", size=0, custom=dict(set_ or {}))  # implicit dir gets a marker
            return
        custom = dict(meta.custom)
        if remove is not None:
            if remove not in custom:
                raise fail(errno.ENODATA)
            custom.pop(remove)
        custom.update(set_ or {})
        new = await self.b.update_meta(node.bucket, key, custom)
        if st is not None:
            st.meta = new

    # directories -----------------------------------------------------------------------------------
    async def _entry_attrs(self, bucket: str, prefix: str, batch: list[DirEntry]) -> list[Entry]:
        """Names with attributes (readdirplus: no per-entry round trip later); a directory's come from its marker."""
        out: list[Entry] = []
        for e in batch:
            meta = await self.b.head(bucket, prefix + e.name + "/") if e.kind == "dir" else e.meta
            child = self.inodes.node(bucket, prefix + e.name, e.kind)
            out.append((e.name.encode("utf-8", "surrogateescape"), self._attr_of(child, e.kind, meta), child))
        return out

    async def _unlisted_files(self, bucket: str, prefix: str) -> list[DirEntry]:
        """Files created here and not uploaded yet: the store's listing does not have them."""
        out: list[DirEntry] = []
        for st in list(self.states.values()):
            rel = st.key[len(prefix):]
            if (not st.detached and st.meta is None and st.bucket == bucket and st.key.startswith(prefix) and rel
                    and "/" not in rel and await self.b.head(bucket, st.key) is None):
                out.append(DirEntry(rel, "file"))
        return out

    async def _listing(self, node: Node) -> list[Entry]:
        """A whole directory at once: the bucket list, and cached listings."""
        if node.bucket is None:
            out: list[Entry] = []
            for name in await self.b.list_buckets():
                child = self.inodes.node(name, "", "dir")
                out.append((name.encode(), make_attr(child.ino, "dir", None, self.d), child))
            return out
        bucket, prefix = node.bucket, node.prefix
        pager = DirPager(self.b, bucket, prefix)
        entries: list[Entry] = []
        while batch := await pager.next_batch():
            entries += await self._entry_attrs(bucket, prefix, batch)
        return entries + await self._entry_attrs(bucket, prefix, await self._unlisted_files(bucket, prefix))

    def _caches_listings(self) -> bool:
        """A read-only mount with a long TTL (the ML preset) lists each directory once per TTL: nothing
        changes it from here, and outside changes may take the TTL to show anyway."""
        return self.read_only and self.d.ttl >= LISTING_CACHE_MIN_TTL

    async def _cached_listing(self, node: Node) -> list[Entry]:
        if not self._caches_listings():
            return await self._listing(node)
        now = trio.current_time()
        hit = self._list_cache.get(node.ino)
        if hit is not None and hit[0] > now:
            return hit[1]
        entries = await self._listing(node)
        self._list_cache[node.ino] = (now + self.d.ttl, entries)
        return entries

    @fuse_op
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self.inodes.get(inode)
        if node.kind != "dir":
            raise fail(errno.ENOTDIR)
        fh = self._fh()
        self.dirs[fh] = DirHandle(node)
        return fh

    @fuse_op
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        """`.` and `..` first, as every POSIX directory has them; then the entries."""
        dh = self.dirs[fh]
        for i in range(start_id, DOTS):
            if not pyfuse3.readdir_reply(token, (b".", b"..")[i], self._dot_attr(dh.node, i), i + 1):
                return
        await self._readdir_entries(dh, max(start_id, DOTS) - DOTS, token)

    def _dot_attr(self, node: Node, i: int) -> pyfuse3.EntryAttributes:
        """`.` is the directory itself, `..` its parent (the root's is itself); the kernel takes no reference."""
        if i == 1 and node.ino != ROOT_INO:
            parent = self.inodes.parent(node)
            node = parent if parent is not None else node
        return make_attr(node.ino, "dir", None, self.d)

    async def _readdir_entries(self, dh: DirHandle, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        """Stream the directory a page at a time: offsets are positions in this handle's one pass."""
        node = dh.node
        if node.bucket is None or self._caches_listings():
            if dh.full is None or start_id == 0:
                dh.full = await self._cached_listing(node)
            self._reply(token, dh.full, 0, start_id)
            return
        bucket, prefix = node.bucket, node.prefix
        if dh.pager is None or start_id == 0 or start_id < dh.base:
            dh.pager, dh.base, dh.window, dh.ended = DirPager(self.b, bucket, prefix), 0, [], False
        while True:
            while start_id >= dh.base + len(dh.window):  # fetch until the window holds start_id
                if dh.ended:
                    return
                batch = await dh.pager.next_batch()
                if not batch:
                    dh.ended = True
                    batch = await self._unlisted_files(bucket, prefix)
                dh.base += len(dh.window)
                dh.window = await self._entry_attrs(bucket, prefix, batch)
            if not self._reply(token, dh.window, dh.base, start_id):
                return
            start_id = dh.base + len(dh.window)

    def _reply(self, token: pyfuse3.ReaddirToken, window: list[Entry], base: int, start_id: int) -> bool:
        """Hand entries from `start_id` on to the kernel; False once its buffer is full."""
        for i in range(start_id - base, len(window)):
            name, attr, node = window[i]
            node = self.inodes.revive(node)  # a cached listing may outlive the kernel's memory of an entry
            attr.st_ino = node.ino
            if not pyfuse3.readdir_reply(token, name, attr, DOTS + base + i + 1):
                return False
            node.lookups += 1
        return True

    async def releasedir(self, fh: int) -> None:
        dh = self.dirs.pop(fh, None)
        if dh is not None:  # entries listed but never handed out (the reader stopped early) hold no reference
            for _, _, node in dh.window:
                if node.lookups == 0:
                    self._let_go(node.ino)

    # files ---------------------------------------------------------------------------------------------
    def _lock(self, ino: int) -> trio.Lock:
        lock = self._open_locks.get(ino)
        if lock is None:
            lock = self._open_locks[ino] = trio.Lock()
        return lock

    @fuse_op
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        node = self.inodes.get(inode)
        if node.kind == "dir":
            raise fail(errno.EISDIR)
        if node.bucket is None:
            raise fail(errno.ENOENT)
        writing = flags & os.O_ACCMODE != os.O_RDONLY or flags & os.O_TRUNC
        if not writing:
            lock = self._open_locks.get(inode)
            if lock is None or not lock.locked():  # taking a free trio.Lock costs a trip through the scheduler
                return await self._open_for_reading(node)
            async with lock:  # a writer's open is under way: read what it leaves
                return await self._open_for_reading(node)
        self._writable()
        async with self._lock(inode):
            st = self._live_state(node)
            if st is None:
                await self.b.check_writable(node.bucket)
                meta = await self.b.head(node.bucket, node.key)
                st = await WriteState.load(self.b, node.bucket, node.key, meta, truncate=bool(flags & os.O_TRUNC))
                st.nursery = self.nursery
                st.direct = _write_only(flags)
                self.states[inode] = st
            elif flags & os.O_TRUNC:
                await st.resize(0)
            st.refs += 1
            fh = self._fh()
            self.handles[fh] = Handle(inode, state=st, writable=True)
            self.seen.pop(inode, None)
            return pyfuse3.FileInfo(fh=fh, keep_cache=False, direct_io=st.direct)

    async def _open_for_reading(self, node: Node) -> pyfuse3.FileInfo:
        """A handle on the version there is now, or on a file being written (read what the writer sees)."""
        assert node.bucket is not None
        fh = self._fh()
        st = self._live_state(node)
        if st is not None:
            st.refs += 1
            self.handles[fh] = Handle(node.ino, state=st)
            return pyfuse3.FileInfo(fh=fh, keep_cache=False, direct_io=st.direct)
        reader = await self.b.open_read(node.bucket, node.key)
        ident = _ident(reader.meta)
        keep = self.seen.get(node.ino) == ident
        self.seen[node.ino] = ident
        self.handles[fh] = Handle(node.ino, reader=reader)
        return pyfuse3.FileInfo(fh=fh, keep_cache=keep, direct_io=self.direct_io)

    @fuse_op
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: pyfuse3.RequestContext
                     ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        self._writable()
        parent, bucket, key = self._child(parent_inode, name)
        if parent.bucket is None:
            raise fail(errno.EPERM)  # only directories (buckets) at the top
        r = await self._resolve(bucket, key)
        if r is not None and r[0] == "dir":
            raise fail(errno.EISDIR)
        self._new_key(key)
        await self.b.check_writable(bucket)
        node = self.inodes.node(bucket, key, "file")
        async with self._lock(node.ino):
            st = self._live_state(node)
            if st is None:
                st = await WriteState.load(self.b, bucket, key, None, truncate=True)
                st.custom[MODE] = f"{stat.S_IMODE(mode):o}"
                st.nursery = self.nursery
                st.direct = _write_only(flags)
                self.states[node.ino] = st
            elif flags & os.O_TRUNC:
                await st.resize(0)
            st.refs += 1
            fh = self._fh()
            self.handles[fh] = Handle(node.ino, state=st, writable=True)
        node.lookups += 1
        self.seen.pop(node.ino, None)
        return pyfuse3.FileInfo(fh=fh, keep_cache=False, direct_io=st.direct), self._attr_of(node, "file", None)

    @fuse_op
    async def read(self, fh: int, off: int, size: int) -> bytes:
        h = self.handles[fh]
        if h.state is not None:
            return h.state.read(off, size)
        assert h.reader is not None
        return await h.reader.pread(size, off)

    @fuse_op
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        h = self.handles[fh]
        if not h.writable or h.state is None:
            raise fail(errno.EBADF)
        return await h.state.write(off, buf)

    @fuse_op
    async def flush(self, fh: int) -> None:
        """close(2): the object appears now, and a failed upload is this close's error.

        A read-only mount has nothing to do at close, so it answers the first FLUSH with ENOSYS: the kernel
        then takes every later close as done without asking (each FLUSH is a round trip that the closing
        process waits for; small-file reads ran ~35% faster without it)."""
        if self.read_only:
            raise fail(errno.ENOSYS)
        h = self.handles[fh]
        st = h.state
        if h.writable and st is not None:
            if st.meta is None and st.size == 0:
                return  # a new, still empty file (e.g. `> f` dups the fd): upload at release, not twice
            await st.commit(self.b)

    @fuse_op
    async def fsync(self, fh: int, datasync: bool) -> None:
        """fsync means durable: written content is committed as the object, and the index synced (which
        also makes the file's committed renames and metadata changes durable, on any handle)."""
        h = self.handles[fh]
        st = h.state if h.writable else None
        if st is not None:
            await st.commit(self.b)
        await self.b.sync(st.meta if st is not None else None)

    @fuse_op
    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        """The durable-rename idiom (write, fsync, rename, fsync the directory): renames, unlinks and new
        entries are index commits, so syncing the index makes every one made before it durable. Without
        this handler the kernel answers such an fsync with success and syncs nothing."""
        await self._upload_made_files(self.dirs[fh].node)
        await self.b.sync(None)

    async def release(self, fh: int) -> None:
        h = self.handles.pop(fh, None)
        if h is None:
            return
        h.close()
        st = h.state
        if st is None:
            return
        st.refs -= 1
        if st.refs > 0:
            return
        try:
            if st.dirty and not st.detached:
                await st.commit(self.b)  # last chance; an error here has no caller to go to
        except Exception:
            log.exception("upload of %s/%s at release failed", st.bucket, st.key)
        finally:
            if st.refs == 0:  # else opened again while this committed: the new handle has it now
                if self.states.get(h.ino) is st:
                    del self.states[h.ino]
                st.close()

    # xattrs / statfs ----------------------------------------------------------------------------------------
    async def _xattr_meta(self, node: Node) -> ObjectMeta | None:
        if node.bucket is None or node.is_bucket_root:
            return None
        st = self._live_state(node) if node.kind == "file" else None
        if st is not None and st.meta is None:
            return ObjectMeta(bucket=st.bucket, key=st.key, size=st.size, cksum=Cksum("none", ""), version="",
                              etag="", atime_ns=st.mtime_ns, mtime_ns=st.mtime_ns, custom=st.custom)
        meta = await self.b.head(node.bucket, self._object_key(node))
        if meta is not None and st is not None:
            meta.custom = dict(st.custom)
        return meta

    @fuse_op
    async def getxattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> bytes:
        n = _name(name)
        if n.startswith(LOCAL_XATTR_NS):
            raise fail(errno.ENODATA)
        return xattrs.get(await self._xattr_meta(self.inodes.get(inode)), n)

    @fuse_op
    async def listxattr(self, inode: int, ctx: pyfuse3.RequestContext) -> list[bytes]:
        node = self.inodes.get(inode)
        if node.kind == "link":
            return []  # the kernel keeps user.* off symlinks (ENODATA for any get): listing them would mislead
        return xattrs.list_names(await self._xattr_meta(node))

    @fuse_op
    async def setxattr(self, inode: int, name: bytes, value: bytes, ctx: pyfuse3.RequestContext) -> None:
        n = _name(name)
        if n.startswith(LOCAL_XATTR_NS):
            raise fail(errno.ENOTSUP)
        self._writable()
        node = self.inodes.get(inode)
        if node.bucket is None or node.is_bucket_root:
            raise fail(errno.ENOTSUP)
        key = xattrs.check_set(await self._xattr_meta(node), n, value)
        if key is not None:
            await self._update_custom(node, set_={key: value.decode()})

    @fuse_op
    async def removexattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        n = _name(name)
        if n.startswith(LOCAL_XATTR_NS):
            raise fail(errno.ENODATA)
        self._writable()
        node = self.inodes.get(inode)
        if node.bucket is None or node.is_bucket_root:
            raise fail(errno.ENODATA)
        if xattrs.is_readonly(n):
            # It describes the object and comes back at once; tools that mirror a source's names (`rsync -X`)
            # remove those the source lacks, and must not fail on these.
            if await self._xattr_meta(node) is None:
                raise fail(errno.ENODATA)
            return
        await self._update_custom(node, remove=xattrs.user_key(n))

    @fuse_op
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        total, avail = await self.b.capacity()
        s = pyfuse3.StatvfsData()
        s.f_bsize = s.f_frsize = 4096
        s.f_blocks = total // 4096
        s.f_bfree = s.f_bavail = avail // 4096
        s.f_files = 1 << 32
        s.f_ffree = s.f_favail = (1 << 32) - 1
        s.f_namemax = 255
        return s
