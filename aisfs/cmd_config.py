"""`aisfs config show|set`: the cluster config, addressed by dotted keys (`checksum.type=md5`)."""
from __future__ import annotations

import argparse
from typing import Any

from .cmdutil import (add_command, add_group, add_json_flag, client, dotted_subset, parse_settings,
                      show_settings)


def cmd_show(args: argparse.Namespace) -> int:
    with client(args) as cl:
        doc = cl.get_config()
    show_settings(doc, args.key or "", as_json=args.json)
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    updates = parse_settings(args.settings)
    with client(args) as cl:
        doc = cl.set_config(updates)
    print(f"config updated (version {doc.get('version', '?')})")
    show_settings(dotted_subset(doc, updates), as_json=False)
    return 0


def add_parser(sub: Any) -> None:
    g = add_group(sub, "config", help="show or change the cluster config", examples="""
        aisfs config show
        aisfs config set checksum.type=md5
        """)
    p = add_command(g, "show", help="show the cluster config, or the settings under a key", func=cmd_show,
                    examples="""
                      aisfs config show
                      aisfs config show space
                      aisfs config show checksum.type --json
                    """)
    p.add_argument("key", nargs="?", metavar="KEY", help="a section (space) or a setting (space.highwm)")
    add_json_flag(p)

    p = add_command(g, "set", help="change cluster settings (dotted KEY=VALUE words or a JSON object)",
                    func=cmd_set, description="""
        Change settings; values are converted to each setting's type and validated by the server, which
        applies all of them or none. New buckets inherit checksum, versioning, lru, mirror and ec.""",
                    examples="""
        aisfs config set checksum.type=md5
        aisfs config set space.highwm=85 space.lowwm=70
        aisfs config set lru.enabled true
        aisfs config set '{"checksum": {"type": "sha256"}}'
        """)
    p.add_argument("settings", nargs="+", metavar="KEY=VALUE")
