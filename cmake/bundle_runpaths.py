#!/usr/bin/env python3
"""Makes the libraries of an unpacked dependency bundle find each other in their new place.

    python3 cmake/bundle_runpaths.py PREFIX

Debian builds Open MPI (and UCX) with a DT_RUNPATH naming /usr/lib/<arch>/openmpi/lib. A
DT_RUNPATH serves only the library's own direct dependencies and switches off, for them, the run
path (DT_RPATH) of the executable that loads it: a program built against the bundle finds
libmpi.so.40 through its own run path, but libmpi's libopen-rte, libopen-pal and libhwloc are then
looked up in /usr only, where a bare machine does not have them. So every ELF file of PREFIX with
a DT_RUNPATH gets, in place (the file keeps its size and layout):

  - libraries: the tag DT_RPATH instead of DT_RUNPATH, so that the search goes on to the run path
    of the executable (which names the prefix's library directories), then LD_LIBRARY_PATH;
  - each directory of the path that lies under /usr rewritten relative to the file itself
    ($ORIGIN/...) when the new string fits in the old one's bytes (it keeps naming the bundle's
    own copy, not a system's); otherwise a library's string is left as it was;
  - programs (orterun, ompi_info...) keep DT_RUNPATH, rewritten only when the relative form fits:
    a DT_RPATH would come before LD_LIBRARY_PATH, which is how they are run (mmaux-env.sh, ctest).

Standard library only (it runs on the GPU machine's Python). Prints one line per file changed and a
count; exits 1 on an ELF file it cannot parse.
"""
import os
import struct
import sys

DT_NULL, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 5, 15, 29
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3


def vaddr_to_offset(loads, addr):
    for vaddr, offset, filesz in loads:
        if vaddr <= addr < vaddr + filesz:
            return offset + (addr - vaddr)
    raise ValueError(f"address {addr:#x} is in no loadable segment")


def relocated(path_list, file_dir, prefix):
    """The $ORIGIN-relative spelling of each /usr directory of a run path, inside the prefix."""
    out = []
    for d in path_list.split(":"):
        if d.startswith("/usr/"):
            rel = os.path.relpath(os.path.join(prefix, d.lstrip("/")), file_dir)
            d = "$ORIGIN" if rel == "." else "$ORIGIN/" + rel
        out.append(d)
    return ":".join(out)


def patch(path, prefix):
    """Returns a description of the change, or None when the file has no DT_RUNPATH."""
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return None
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data[4] != 2 or data[5] != 1:
            raise ValueError("not a 64-bit little-endian ELF file")
        phoff, = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
        dynamic, loads, program = None, [], False
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
            if p_type == PT_DYNAMIC:
                dynamic = (p_offset, p_filesz)
            elif p_type == PT_LOAD:
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == PT_INTERP:
                program = True
        if dynamic is None:
            return None
        entries, strtab = [], None
        for pos in range(dynamic[0], dynamic[0] + dynamic[1], 16):
            tag, val = struct.unpack_from("<qQ", data, pos)
            if tag == DT_NULL:
                break
            entries.append((pos, tag, val))
            if tag == DT_STRTAB:
                strtab = vaddr_to_offset(loads, val)
        runpaths = [(pos, val) for pos, tag, val in entries if tag == DT_RUNPATH]
        if not runpaths:
            return None
        if any(tag == DT_RPATH for _, tag, _ in entries):
            raise ValueError("has both DT_RPATH and DT_RUNPATH")
        if strtab is None:
            raise ValueError("DT_RUNPATH without DT_STRTAB")
        changes = []
        tag = "DT_RUNPATH" if program else "DT_RPATH"
        for pos, val in runpaths:
            start = strtab + val
            end = data.index(b"\0", start)
            old = data[start:end].decode()
            new = relocated(old, os.path.dirname(os.path.abspath(path)), prefix)
            if len(new) > len(old):
                if program:
                    continue
                new = old
            if not program:
                struct.pack_into("<q", data, pos, DT_RPATH)
            data[start:end] = new.encode() + b"\0" * (len(old) - len(new))
            changes.append(f"{old} -> {tag} {new}")
        if not changes:
            return None
        f.seek(0)
        f.write(data)
        return "; ".join(changes)


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: bundle_runpaths.py PREFIX (an unpacked bundle)")
    prefix = os.path.abspath(sys.argv[1])
    changed = failed = 0
    for root, _, files in os.walk(prefix):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                what = patch(path, prefix)
            except (ValueError, struct.error) as e:
                print(f"bundle_runpaths: {path}: {e}", file=sys.stderr)
                failed += 1
                continue
            if what:
                changed += 1
                print(f"{os.path.relpath(path, prefix)}: {what}")
    print(f"bundle_runpaths: {changed} files now search the executable's run path too; {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
