"""mspt models: list, info, import, export, rename and remove models in the registry."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "models",
        help="list, inspect, import, export, rename and remove models",
        description="Manage bundled and user models.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="bundled and user models").set_defaults(run=run_list)
    info = sub.add_parser("info", help="a model's metadata as JSON (name or path)")
    info.add_argument("model")
    info.set_defaults(run=run_info)
    imp = sub.add_parser("import", help="copy a model file or folder into the user models")
    imp.add_argument("path", type=Path)
    imp.add_argument("--name", default=None)
    imp.set_defaults(run=run_import)
    exp = sub.add_parser("export", help="write a model as one .safetensors file to share")
    exp.add_argument("model")
    exp.add_argument("dest", type=Path)
    exp.set_defaults(run=run_export)
    ren = sub.add_parser("rename", help="give a user model a new name")
    ren.add_argument("old")
    ren.add_argument("new")
    ren.set_defaults(run=run_rename)
    rm = sub.add_parser("remove", help="delete a user model")
    rm.add_argument("name")
    rm.set_defaults(run=run_remove)


def _summary(meta: dict) -> str:
    prov = meta.get("provenance", {})
    cer = prov.get("val_cer")
    cer_text = f"{cer:.4f}" if isinstance(cer, (int, float)) else "n/a"
    return (
        f"{meta.get('kind', '?')}, {meta.get('parameters', 0) / 1e6:.1f}M params, "
        f"{len(meta.get('charset', []))} chars, val CER {cer_text}, {prov.get('created', '?')}"
    )


def run_list(args: argparse.Namespace) -> int:
    from mspt_core.models import list_models, user_models_dir

    entries = list_models()
    for entry in entries:
        origin = "bundled" if entry.bundled else "user"
        print(f"{entry.name}\t{origin}\t{_summary(entry.metadata)}\t{entry.path}")
    # On stderr, so the table stays one model a line for a script reading it.
    print(f"{'' if entries else 'no models; '}user models live in {user_models_dir()}", file=sys.stderr)
    return 0


def run_info(args: argparse.Namespace) -> int:
    from mspt_core.models import read_metadata, resolve

    meta = dict(read_metadata(resolve(args.model)))
    meta["charset"] = "".join(meta.get("charset", []))
    print(json.dumps(meta, ensure_ascii=False, indent=2))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from mspt_core.cli.common import check_output_folder
    from mspt_core.models import import_model, user_models_dir

    check_output_folder(user_models_dir())
    entry = import_model(args.path, args.name)
    print(f"imported {entry.name!r} to {entry.path}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from mspt_core.models import export_model

    print(f"exported to {export_model(args.model, args.dest)}")
    return 0


def run_rename(args: argparse.Namespace) -> int:
    from mspt_core.models import rename_model

    entry = rename_model(args.old, args.new)
    print(f"renamed {args.old!r} to {entry.name!r} ({entry.path})")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from mspt_core.models import remove_model

    print(f"removed {remove_model(args.name)}")
    return 0
