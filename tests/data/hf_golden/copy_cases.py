#!/usr/bin/env python3
"""Copies the reference cases mmaux tests from a checkout of the hf_golden set (standard library).

Usage: python3 copy_cases.py SOURCE_DIR KIND [KIND ...]      e.g. ... /path/to/hf_golden text vision vilt

Copies, byte for byte, every model directory and golden directory that the manifest's cases of
the given kinds use (dual-stream directories stay symbolic links text/ -> ../bert, image/ -> ../vit),
and writes golden/manifest.json: the source manifest with only the cases of the kinds copied so far
(kinds already here are kept, so later kinds extend the list).
"""
import json
import os
import shutil
import sys


def copy_tree(src, dst):
    """Copies a directory; a one-line file naming a sibling directory becomes a symlink to it."""
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s):
            copy_tree(s, d)
            continue
        with open(s, "rb") as f:
            head = f.read(64)
        if name in ("text", "image") and head.startswith(b"../") and b"\n" not in head.strip():
            if os.path.lexists(d):
                os.remove(d)
            os.symlink(head.decode().strip(), d)  # the source stores its links as plain files
        else:
            shutil.copyfile(s, d)


def main():
    src, kinds = sys.argv[1], set(sys.argv[2:])
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(src, "golden", "manifest.json")) as f:
        manifest = json.load(f)
    old = os.path.join(here, "golden", "manifest.json")
    if os.path.exists(old):
        with open(old) as f:
            kinds |= {c["kind"] for c in json.load(f)["cases"]}
    manifest["cases"] = [c for c in manifest["cases"] if c["kind"] in kinds]
    for case in manifest["cases"]:
        model_dir = os.path.join(src, case["dir"])
        copy_tree(model_dir, os.path.join(here, case["dir"]))
        for sub in ("text", "image"):  # the towers a dual-stream directory links to
            link = os.path.join(model_dir, sub)
            if os.path.isfile(link):
                target = os.path.normpath(os.path.join(model_dir, open(link).read().strip()))
                rel = os.path.relpath(target, src)
                copy_tree(target, os.path.join(here, rel))
        copy_tree(os.path.join(src, "golden", case["golden"]),
                  os.path.join(here, "golden", case["golden"]))
    with open(old, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{len(manifest['cases'])} cases of kinds {sorted(kinds)}")


if __name__ == "__main__":
    main()
