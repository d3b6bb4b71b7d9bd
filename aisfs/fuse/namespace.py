"""Namespace-changing FUSE ops: mkdir, rmdir, unlink, mknod, symlinks, links, rename (rules in docs/semantics.md)."""
from __future__ import annotations

import contextlib
import errno
import logging
import stat
from typing import TYPE_CHECKING

import pyfuse3
import trio

from .attrs import MODE, SYMLINK, make_attr
from .errnos import fail, fuse_op
from .handles import WriteState, holding_commits

if TYPE_CHECKING:
    from .inodes import Node
    from .ops import AisOps, Resolved

log = logging.getLogger("aisfs.fuse")

MKNOD_SETTLE_SECONDS = 1.0  # how long a file made by mknod waits for a handle before it is uploaded empty
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


class NamespaceOps:
    """Mixed into AisOps; each change is one engine operation where the engine offers one."""

    @fuse_op
    async def mkdir(self: "AisOps", parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
                    ) -> pyfuse3.EntryAttributes:
        self._writable()
        parent, bucket, key = self._child(parent_inode, name)
        if parent.bucket is None:
            await self.b.create_bucket(bucket)
            node = self.inodes.node(bucket, "", "dir")
            node.lookups += 1
            return make_attr(node.ino, "dir", None, self.d)
        if await self._resolve(bucket, key) is not None:
            raise fail(errno.EEXIST)
        self._new_key(key, marker=True)
        meta = await self.b.put(bucket, key + "/", b"", size=0, custom={MODE: f"{stat.S_IMODE(mode):o}"})
        node = self.inodes.node(bucket, key, "dir")
        node.lookups += 1
        return make_attr(node.ino, "dir", meta, self.d)

    async def _dir_is_empty(self: "AisOps", bucket: str, key: str) -> bool:
        prefix = key + "/"
        if any(st.bucket == bucket and st.key.startswith(prefix) and not st.detached for st in self.states.values()):
            return False
        entries, _ = await self.b.list_page(bucket, prefix, "", 2)  # the marker, and at most one more
        return all(e.name == prefix for e in entries)

    @fuse_op
    async def rmdir(self: "AisOps", parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        self._writable()
        parent, bucket, key = self._child(parent_inode, name)
        if parent.bucket is None:
            await self.b.destroy_empty_bucket(bucket)
            return
        r = await self._resolve(bucket, key)
        if r is None:
            raise fail(errno.ENOENT)
        if r[0] != "dir":
            raise fail(errno.ENOTDIR)
        if not await self._dir_is_empty(bucket, key):
            raise fail(errno.ENOTEMPTY)
        if r[1] is not None:
            await self.b.delete(bucket, key + "/")
        self.inodes.detach(bucket, key)

    @fuse_op
    async def unlink(self: "AisOps", parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        self._writable()
        _, bucket, key = self._child(parent_inode, name)
        r = await self._resolve(bucket, key)
        if r is None:
            raise fail(errno.ENOENT)
        if r[0] == "dir":
            raise fail(errno.EISDIR)
        node = self.inodes.find(bucket, key)
        st = self._live_state(node) if node is not None else None
        if st is not None:
            async with st.lock:  # a commit in flight (a close from another process) lands first, then goes
                st.deleted = True  # still readable and writable through open handles; never committed again
                st.abandon_upload()
        if await self.b.head(bucket, key) is not None:
            await self.b.delete(bucket, key)
        self.inodes.detach(bucket, key)

    @fuse_op
    async def symlink(self: "AisOps", parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
                      ) -> pyfuse3.EntryAttributes:
        """One PUT: the target is the body, marked as a link in the user metadata."""
        bucket, key = await self._claim_name(parent_inode, name)
        meta = await self.b.put(bucket, key, target, size=len(target), custom={SYMLINK: "1"})
        node = self.inodes.node(bucket, key, "link")
        node.lookups += 1
        self.seen.pop(node.ino, None)
        return make_attr(node.ino, "link", meta, self.d)

    @fuse_op
    async def mknod(self: "AisOps", parent_inode: int, name: bytes, mode: int, rdev: int,
                    ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        """A regular file only: an empty file, uploaded by the last close of a handle opened on it within
        MKNOD_SETTLE_SECONDS, else then. `tar --xattrs` makes each file this way before it sets the xattrs and
        writes the data: one object version per file, not an empty one first. FIFOs, sockets and devices have
        no object form: EPERM, as on vfat."""
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            raise fail(errno.EPERM)
        bucket, key = await self._claim_name(parent_inode, name)
        await self.b.check_writable(bucket)
        node = self.inodes.node(bucket, key, "file")
        async with self._lock(node.ino):
            if self._live_state(node) is not None:
                raise fail(errno.EEXIST)  # made by a create or mknod that ran while this one checked
            st = await WriteState.load(self.b, bucket, key, None, truncate=True)
            st.custom[MODE] = f"{stat.S_IMODE(mode):o}"
            st.nursery = self.nursery
            self.states[node.ino] = st
        assert self.nursery is not None
        self.nursery.start_soon(self._settle_mknod, node.ino, st)
        node.lookups += 1
        self.seen.pop(node.ino, None)
        return self._attr_of(node, "file", None)

    async def _settle_mknod(self: "AisOps", ino: int, st: WriteState) -> None:
        """Upload a file made by mknod that no handle has open after the settle time, as a close would.
        (Opened meanwhile, its last release uploads it; at unmount, pending files are uploaded anyway.)"""
        await trio.sleep(MKNOD_SETTLE_SECONDS)
        await self._upload_unopened(ino, st)

    async def _upload_made_files(self: "AisOps", parent: Node) -> None:
        """Files made by mknod in this directory and not opened: uploaded now (fsync of the directory
        promises their names; a name here is an object). One that cannot be uploaded is gone, and the
        fsync fails with its errno (after the others are uploaded), as it would on a disk that lost it."""
        failed: Exception | None = None
        for ino, st in list(self.states.items()):
            if not st.refs and st.bucket == parent.bucket and st.key.rpartition("/")[0] == parent.key:
                failed = await self._upload_unopened(ino, st) or failed
        if failed is not None:
            raise failed

    async def _upload_unopened(self: "AisOps", ino: int, st: WriteState) -> Exception | None:
        """Upload a pending file that no handle has open, and let it go, as its last close would; the
        upload's failure, if it failed (the file is gone then: there is no close to report it to)."""
        failed: Exception | None = None
        async with self._lock(ino):
            if st.refs or self.states.get(ino) is not st:
                return None
            try:
                if st.dirty and not st.detached:
                    await st.commit(self.b)
            except Exception as e:
                log.warning("upload of %s/%s after mknod failed, the file is gone: %s", st.bucket, st.key, e)
                failed = e
            # (not in a `finally`: a commit cancelled by the unmount leaves the file to the shutdown's upload)
            if not st.refs and self.states.get(ino) is st:
                del self.states[ino]
                st.close()
                with contextlib.suppress(pyfuse3.FUSEError):
                    if self.inodes.get(ino).lookups == 0:   # forgotten by the kernel meanwhile
                        self._let_go(ino)
        return failed

    async def _claim_name(self: "AisOps", parent_inode: int, name: bytes) -> tuple[str, str]:
        """The (bucket, key) of a name to be made: EEXIST if it is taken, EPERM at the top (buckets only)."""
        self._writable()
        parent, bucket, key = self._child(parent_inode, name)
        if parent.bucket is None:
            raise fail(errno.EPERM)
        if await self._resolve(bucket, key) is not None:
            raise fail(errno.EEXIST)
        self._new_key(key)
        return bucket, key

    @fuse_op
    async def readlink(self: "AisOps", inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        node = self.inodes.get(inode)
        if node.kind != "link" or node.bucket is None:
            raise fail(errno.EINVAL)
        reader = await self.b.open_read(node.bucket, node.key)
        try:
            return bytes(await reader.pread(reader.meta.size, 0))
        finally:
            reader.close()

    @fuse_op
    async def link(self: "AisOps", inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext
                   ) -> pyfuse3.EntryAttributes:
        raise fail(errno.EPERM)  # objects have one name; documented in docs/semantics.md

    @fuse_op
    async def rename(self: "AisOps", parent_inode_old: int, name_old: bytes, parent_inode_new: int, name_new: bytes,
                     flags: int, ctx: pyfuse3.RequestContext) -> None:
        self._writable()
        if flags & RENAME_EXCHANGE:
            raise fail(errno.EINVAL)
        p_old, bucket, src = self._child(parent_inode_old, name_old)
        p_new, dst_bucket, dst = self._child(parent_inode_new, name_new)
        if (bucket, src) == (dst_bucket, dst):
            return  # a name renamed to itself, a bucket included: nothing to do (POSIX)
        if p_old.bucket is None or p_new.bucket is None or dst_bucket != bucket:
            raise fail(errno.EXDEV)  # a bucket, or across buckets: mv falls back to copy + delete
        rs = await self._resolve(bucket, src)
        if rs is None:
            raise fail(errno.ENOENT)
        self._new_key(dst, marker=rs[0] == "dir")
        rd = await self._resolve(bucket, dst)
        if rd is not None and flags & RENAME_NOREPLACE:
            raise fail(errno.EEXIST)
        if rs[0] == "dir":
            await self._rename_dir(bucket, src, dst, rd)
        else:
            await self._rename_file(bucket, src, dst, rd)

    async def _rename_file(self: "AisOps", bucket: str, src: str, dst: str, rd: Resolved | None) -> None:
        if rd is not None and rd[0] == "dir":
            raise fail(errno.EISDIR)
        node, target = self.inodes.find(bucket, src), self.inodes.find(bucket, dst)
        st = self._live_state(node) if node is not None else None
        tst = self._live_state(target) if target is not None else None
        pairs = [(n.ino, s) for n, s in ((node, st), (target, tst)) if n is not None and s is not None]
        async with holding_commits(pairs):  # or an upload in flight brings either old object back afterwards
            if st is not None:
                await st.commit_locked(self.b)  # the object must exist to be renamed; the handle goes on writing `dst`
            await self.b.rename(bucket, src, dst)
            if tst is not None:
                tst.deleted = True  # the replaced file lives on only in its open handles
                tst.abandon_upload()
            if st is not None:
                st.key = dst
        self.inodes.move(bucket, src, dst, is_dir=False)

    async def _rename_dir(self: "AisOps", bucket: str, src: str, dst: str, rd: Resolved | None) -> None:
        if rd is not None:
            if rd[0] != "dir":
                raise fail(errno.ENOTDIR)
            if not await self._dir_is_empty(bucket, dst):
                raise fail(errno.ENOTEMPTY)
        if dst.startswith(src + "/"):
            raise fail(errno.EINVAL)
        marker = rd[1] if rd is not None else None
        pre = src + "/"
        inside = [(ino, st) for ino, st in self.states.items() if st.bucket == bucket and st.key.startswith(pre)]
        async with holding_commits(inside):
            if marker is not None:
                await self.b.delete(bucket, dst + "/")
            try:
                await self.b.rename_prefix(bucket, pre, dst + "/")
            except BaseException:
                if marker is not None:  # the move was refused: the empty target directory stays as it was
                    with trio.CancelScope(shield=True):
                        await self.b.put(bucket, dst + "/", b"", size=0, custom=marker.custom)
                raise
            for _, st in inside:
                st.abandon_upload()  # it streams to the old name; the staged copy goes to the new one
                st.key = dst + "/" + st.key[len(pre):]
        self.inodes.move(bucket, src, dst, is_dir=True)
