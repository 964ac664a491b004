#!/usr/bin/env python3
"""Compiles every translation unit of a configured build against another libtorch's headers.

The build here links Debian 12's libtorch 1.13; a GPU machine links PyTorch 2.x. This script
re-runs each command of BUILD/compile_commands.json with -fsyntax-only, with the libtorch headers
of a second tree (for example Debian trixie's libtorch-dev, unpacked by fetch_torch_headers.sh)
in place of /usr/include/{ATen,c10,caffe2,torch}, so that an API break of a newer libtorch shows
up here. The system's 1.13 headers are hidden (a copy of the default include directories without
them, and -nostdinc), so that no header silently falls back to 1.13.

    python3 cmake/check_torch_syntax.py --build build --torch-root /tmp/torch26/root \
        [--jobs 2] [--filter REGEX] [--define MMAUX_X=1] [--include /usr/local/cuda/include]

With the headers of a CUDA build of libtorch (Debian's libtorch-cuda-dev) and
--define MMAUX_TORCH_CUDA=1 --include <CUDA include dir>, the CUDA code paths compile too.
cmake/fetch_torch_headers.sh fetches both header sets from Debian trixie.

Prints one line per translation unit (ok, warnings, errors) and the diagnostics that mention
project files; exits 1 when any unit fails to compile.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

TORCH_DIRS = ("ATen", "c10", "caffe2", "torch")
EXTRA_INCLUDES = []


def default_include_dirs(compiler):
    """The compiler's <...> search list, in order."""
    out = subprocess.run([compiler, "-xc++", "-E", "-v", "-"], input="", text=True,
                         capture_output=True).stderr
    lines = out.splitlines()
    start = lines.index("#include <...> search starts here:") + 1
    end = lines.index("End of search list.")
    return [l.strip() for l in lines[start:end]]


def make_farm(torch_root, work):
    """WORK/include: /usr/include without the system's libtorch, plus the other libtorch's."""
    farm = os.path.join(work, "include")
    os.makedirs(farm)
    for name in os.listdir("/usr/include"):
        if name not in TORCH_DIRS:
            os.symlink(os.path.join("/usr/include", name), os.path.join(farm, name))
    other = os.path.join(torch_root, "usr", "include")
    for name in os.listdir(other):
        target = os.path.join(farm, name)
        if os.path.lexists(target):
            os.unlink(target)
        os.symlink(os.path.join(other, name), target)
    return farm


def rewrite(command, farm, system_dirs, pch_copy, defines):
    args = shlex.split(command)
    out = [args[0], "-nostdinc"]
    skip = False
    for i, a in enumerate(args[1:], 1):
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a == "-Winvalid-pch":
            continue
        if a == "-include" and args[i + 1].endswith("cmake_pch.hxx"):
            out += ["-include", pch_copy]
            skip = True
            continue
        if a.startswith("/usr/include/"):
            a = farm + a[len("/usr/include"):]
        out.append(a)
    for d in system_dirs:
        out += ["-isystem", farm if d == "/usr/include" else d]
    for d in defines:  # replaces the build's value of the same macro
        name = d.split("=")[0]
        out = [a for a in out if not (a.startswith("-D" + name + "=") or a == "-D" + name)]
        out.append("-D" + d)
    out.append("-fsyntax-only")
    return out


def check(entry, farm, system_dirs, pch_copy, defines):
    cmd = rewrite(entry["command"], farm, system_dirs, pch_copy, defines)
    cmd[1:1] = [x for d in EXTRA_INCLUDES for x in ("-isystem", d)]
    r = subprocess.run(cmd, cwd=entry["directory"], text=True, capture_output=True)
    return entry["file"], r.returncode, r.stderr


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--torch-root", required=True, help="a tree with usr/include/{ATen,c10,torch}")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--filter", default="", help="only files matching this regular expression")
    p.add_argument("--define", action="append", default=[], help="NAME=VALUE, replacing the build's")
    p.add_argument("--include", action="append", default=[], help="an extra -isystem directory")
    a = p.parse_args()
    EXTRA_INCLUDES.extend(a.include)
    entries = json.load(open(os.path.join(a.build, "compile_commands.json")))
    entries = [e for e in entries if re.search(a.filter, e["file"])]
    version = ""
    for h in ("torch/csrc/api/include/torch/version.h", "torch/headeronly/version.h"):  # 2.x, >= 2.9
        path = os.path.join(a.torch_root, "usr/include", h)
        if os.path.exists(path):
            version += open(path).read()
    print("libtorch headers:", ".".join(re.findall(r"#define TORCH_VERSION_(?:MAJOR|MINOR|PATCH) (\d+)", version)))
    with tempfile.TemporaryDirectory(prefix="torch-syntax-") as work:
        farm = make_farm(a.torch_root, work)
        pch = [e for e in json.load(open(os.path.join(a.build, "compile_commands.json")))
               if "cmake_pch.hxx" in e["command"]]
        pch_copy = os.path.join(work, "pch.hxx")
        src = re.search(r"-include (\S+cmake_pch\.hxx)", pch[0]["command"]).group(1) if pch else None
        with open(pch_copy, "w") as f:
            f.write(open(src).read() if src else "")
        system_dirs = default_include_dirs(shlex.split(entries[0]["command"])[0])
        failed = 0
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
            jobs = [pool.submit(check, e, farm, system_dirs, pch_copy, a.define) for e in entries]
            for j in jobs:
                path, rc, err = j.result()
                rel = os.path.relpath(path)
                warnings = len(re.findall(r": warning:", err))
                print(f"{'FAIL' if rc else 'ok  '} {rel}" + (f" ({warnings} warnings)" if warnings else ""))
                if rc or warnings:
                    failed += 1 if rc else 0
                    shown = [l for l in err.splitlines() if "error" in l or "warning" in l or "note" in l]
                    for l in shown[:40]:
                        print("    " + l.replace(work, "<headers>"))
        print(f"{len(entries) - failed}/{len(entries)} translation units compile against these headers")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
