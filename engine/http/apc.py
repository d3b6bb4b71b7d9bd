"""AIStore's wire constants for listing objects (its `apc` package), shared by the REST face and the client.

An entry's `flags` hold its status in the low 5 bits (LocOK = 0, the only one here) and flag bits above
them. Every object listed here is on local disk, so each carries EntryIsCached, as in AIStore.
"""
LS_NAME_ONLY = 1 << 4       # LsNameOnly: names (and statuses) only
LS_NO_RECURSION = 1 << 11   # LsNoRecursion: fold keys at '/' into virtual directories

ENTRY_STATUS_BITS = 5
ENTRY_IS_CACHED = 1 << (ENTRY_STATUS_BITS + 1)   # 64: the object's data is in the cluster
ENTRY_IS_DIR = 1 << (ENTRY_STATUS_BITS + 3)      # 256: a virtual directory (non-recursive listing)
