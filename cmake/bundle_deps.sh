#!/usr/bin/env bash
# Collects the Debian 12 packages (.deb) that a bare GPU machine needs to build and test the GPU
# subset of mmaux (MMAUX_GPU_SUBSET=ON): Open MPI, HDF5, Boost.Program_options, fmt, GoogleTest,
# nlohmann/json, OpenSSL's libcrypto and utf8proc (the tokenizers), headers and shared libraries, plus every shared library
# they load that a machine with only libc, libstdc++ and zlib lacks.
#
#   bash cmake/bundle_deps.sh OUT            # OUT/debs/*.deb, OUT/MANIFEST, OUT/SHA256SUMS
#   bash cmake/unpack_bundle.sh OUT PREFIX   # unpack without root (dpkg -x or ar + tar)
#
# The target machine needs no package manager and no root: the bundle is unpacked into a prefix
# and found through MMAUX_DEPS_PREFIX (see cmake/MmauxDepsPrefix.cmake). libvips is not part
# of it: the GPU subset decodes no images (no preprocessing, no predict).
#
# How the list is made: ROOTS below are what the build and the tests use directly; the script
# then unpacks them, reads the NEEDED entries of every ELF file in them (libraries, Open MPI's
# plugins and launcher), finds the package that provides each missing soname on this Debian
# machine (ldconfig + dpkg -S), adds it, and repeats until nothing is missing. BASE packages are
# assumed present on any glibc >= 2.36 machine with a C++ compiler. Runs on Debian 12 with
# network access to its archive (apt-get download; the system's apt configuration is used as is).
set -euo pipefail

OUT=${1:?usage: bundle_deps.sh OUT}
MAX_MIB=${MMAUX_BUNDLE_MAX_MIB:-60}

ROOTS=(
  # build: headers, link-time .so symlinks, CMake package files
  libopenmpi-dev libhdf5-dev libboost1.74-dev libboost-program-options1.74-dev libfmt-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev libssl-dev libutf8proc-dev
  # run: the libraries behind those symlinks, mpirun (orterun) and its data files
  libopenmpi3 openmpi-bin openmpi-common libhdf5-103-1 libboost-program-options1.74.0 libfmt9
  libssl3 libutf8proc2
)
# Present on the target (glibc >= 2.36, a C++ compiler, zlib): never bundled.
BASE=(libc6 libgcc-s1 libstdc++6 zlib1g gcc-12-base libcrypt1)

is_base() {
  local p
  for p in "${BASE[@]}"; do [[ $1 == "$p" ]] && return 0; done
  return 1
}

# The installed package that owns a library path (merged /usr: dpkg may know either spelling).
owner() {
  local f real
  real=$(readlink -f "$1")
  for f in "$1" "$real" "${1/#\/lib\//\/usr\/lib\/}" "${real/#\/usr\/lib\//\/lib\/}"; do
    dpkg -S "$f" 2> /dev/null | head -1 | cut -d: -f1 | grep . && return 0
  done
  return 0
}

mkdir -p "$OUT/debs"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

declare -A have=() why=()
queue=()
for p in "${ROOTS[@]}"; do
  have[$p]=1
  why[$p]="root"
  queue+=("$p")
done

download() {  # download PKG...: into OUT/debs (skips what is there)
  local need=() p
  for p in "$@"; do
    compgen -G "$OUT/debs/${p}_*.deb" > /dev/null || need+=("$p")
  done
  ((${#need[@]})) || return 0
  (cd "$OUT/debs" && apt-get download "${need[@]}" 2>&1 | grep -v -e '^Get:' -e unsandboxed || true)
  for p in "${need[@]}"; do
    compgen -G "$OUT/debs/${p}_*.deb" > /dev/null || {
      echo "bundle_deps: apt-get download $p failed" >&2
      exit 1
    }
  done
}

# The sonames an unpacked tree needs and does not contain itself.
missing_sonames() {
  local tree=$1
  find "$tree" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
    xargs -0 -r file -N | awk -F: '/ELF/ {print $1}' |
    xargs -r readelf -d 2> /dev/null | awk '/NEEDED/ {gsub(/[][]/, "", $5); print $5}' | sort -u |
    while read -r so; do
      [[ -n $(find "$tree" -name "$so" -print -quit) ]] || echo "$so"
    done
}

while ((${#queue[@]})); do
  batch=("${queue[@]}")
  queue=()
  download "${batch[@]}"
  for p in "${batch[@]}"; do dpkg-deb -x "$OUT"/debs/"${p}"_*.deb "$work/tree"; done
  while read -r so; do
    path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ && !n++ {print $NF}')
    if [[ -z $path ]]; then
      echo "bundle_deps: no package on this machine provides $so (needed by the bundle)" >&2
      exit 1
    fi
    pkg=$(owner "$path")
    if [[ -z $pkg ]]; then
      echo "bundle_deps: no installed package owns $path ($so)" >&2
      exit 1
    fi
    is_base "$pkg" && continue
    [[ -n ${have[$pkg]:-} ]] && continue
    have[$pkg]=1
    why[$pkg]="provides $so"
    queue+=("$pkg")
  done < <(missing_sonames "$work/tree")
done

# Debs of packages no longer wanted (an earlier list) are removed: the directory is the bundle.
for f in "$OUT"/debs/*.deb; do
  p=$(dpkg-deb -f "$f" Package)
  [[ -n ${have[$p]:-} ]] || rm -f "$f"
done

{
  echo "# mmaux GPU-subset dependency bundle: Debian $(cat /etc/debian_version), $(date -u +%F)"
  echo "# package version bytes reason"
  for f in "$OUT"/debs/*.deb; do
    p=$(dpkg-deb -f "$f" Package)
    echo "$p $(dpkg-deb -f "$f" Version) $(stat -c %s "$f") ${why[$p]}"
  done
} > "$OUT/MANIFEST"
(cd "$OUT/debs" && sha256sum ./*.deb) > "$OUT/SHA256SUMS"

bytes=$(du -cb "$OUT"/debs/*.deb | tail -1 | cut -f1)
mib=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}')
echo "bundle: $(ls "$OUT"/debs/*.deb | wc -l) packages, $mib MiB in $OUT/debs (limit $MAX_MIB MiB)"
awk -v b="$bytes" -v m="$MAX_MIB" 'BEGIN {exit !(b <= m * 1048576)}' || {
  echo "bundle_deps: the bundle is $mib MiB, over the $MAX_MIB MiB limit" >&2
  exit 1
}
