"""aisfs: the command line and the FUSE daemon."""
