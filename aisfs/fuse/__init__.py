"""The FUSE face: a pyfuse3 file system over the engine (embedded) or a `/v1` server (remote)."""
