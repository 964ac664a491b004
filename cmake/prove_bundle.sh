#!/usr/bin/env bash
# Proves on this Debian 12 machine (as root) that the dependency bundle is complete: builds the
# GPU subset against the unpacked bundle with the system's copies of every bundled package (and of
# libvips, h5cc and pkg-config) made invisible, then audits what the build used and runs
# every test of the subset (the gpu-labelled ones skip without a GPU).
#
#   bash cmake/prove_bundle.sh [--jobs N] [--tests 0] WORK
#
# WORK/bundle  the .deb files (cmake/bundle_deps.sh; reused when complete)
# WORK/prefix  the unpacked bundle (cmake/unpack_bundle.sh; made afresh)
# WORK/build   the subset build (Ninja; -DMMAUX_GPU_SUBSET=ON -DMMAUX_DEPS_PREFIX=WORK/prefix)
#
# Hiding: the build and the tests run in a private mount namespace (unshare -m) in which every
# directory that only those packages own is covered by an empty directory and each of their other
# files by /dev/null; libtorch (/usr) and CUDA (/usr/local/cuda) stay visible, as a GPU machine
# has them. Then:
#   - every header the compiler read (Ninja's dependency log) must lie in the source or build
#     tree, the prefix, libtorch, CUDA, or a package of the C/C++ toolchain;
#   - every shared library a built program loads (ldd, without LD_LIBRARY_PATH: through its run
#     path) must come from the prefix, libtorch's own dependencies, CUDA, or the base system (libc,
#     libstdc++, libgcc, libgomp, zlib).
set -euo pipefail
trap 'echo "prove_bundle: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

jobs=$(nproc)
run_tests=1
while [[ ${1:-} == --* ]]; do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --tests) run_tests=$2; shift 2 ;;
    --inside) inside=1; shift ;;
    *) echo "prove_bundle: unknown option $1" >&2; exit 2 ;;
  esac
done
WORK=${1:?usage: prove_bundle.sh [--jobs N] [--tests 0] WORK}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

if [[ -z ${inside:-} ]]; then
  [[ $(id -u) == 0 ]] || { echo "prove_bundle: needs root (unshare -m, bind mounts)" >&2; exit 1; }
  [[ -f $WORK/bundle/SHA256SUMS ]] || bash "$src/cmake/bundle_deps.sh" "$WORK/bundle"
  rm -rf "$WORK/prefix"
  bash "$src/cmake/unpack_bundle.sh" "$WORK/bundle" "$WORK/prefix"
  exec unshare -m --propagation private bash "${BASH_SOURCE[0]}" --inside --jobs "$jobs" \
    --tests "$run_tests" "$WORK"
fi

# ---- inside the private mount namespace --------------------------------------------------------
arch=$(gcc -print-multiarch)
hide_pkgs=$(awk '!/^#/ {print $1}' "$WORK/prefix/MANIFEST")
# libtorch's own runtime dependencies stay (a GPU machine's PyTorch brings its own): Debian's
# libtorch loads, through OpenCV and GDAL, HDF5 libraries that mmaux does not use.
torch_pkgs=$(ldd "$(readlink -f /usr/lib/$arch/libtorch.so)" | awk '/=>/ {print $3}' |
  xargs -r readlink -f | xargs -r dpkg -S 2> /dev/null | cut -d: -f1 | sort -u || true)
# Not bundled, and must not be needed: preprocessing libraries, HDF5's and MPI's wrappers, all
# Boost and HDF5 variants, pkg-config.
for p in libvips-dev libvips42 hdf5-helpers pkgconf pkgconf-bin \
  $(dpkg-query -W -f '${Package}\n' 'libhdf5*' 'libboost*' 'libopenmpi*' 'openmpi*' 2> /dev/null); do
  grep -qxF "$p" <<< "$torch_pkgs" && continue
  dpkg -s "$p" > /dev/null 2>&1 && hide_pkgs+=$'\n'$p
done
hide_pkgs=$(sort -u <<< "$hide_pkgs")
is_hidden_pkg() { grep -qxF "$1" <<< "$hide_pkgs"; }

# A directory can be covered when every package that owns it is hidden.
declare -A dir_ok=()
dir_hideable() {
  local d=$1 owners p
  [[ -n ${dir_ok[$d]:-} ]] && { [[ ${dir_ok[$d]} == 1 ]]; return; }
  dir_ok[$d]=0
  owners=$(dpkg -S "$d" 2> /dev/null | sed -n 1p | sed 's/: .*//' | tr -d ' ' | tr ',' '\n' |
    sed 's/:.*//') || return 1
  [[ -n $owners ]] || return 1
  for p in $owners; do is_hidden_pkg "$p" || return 1; done
  dir_ok[$d]=1
}
# Topmost coverable directory of a file below these roots, into $cover ("" when none). No
# command substitution: dir_ok is a cache that must survive between calls.
cover_dir() {
  local f=$1 root rest first second
  cover=""
  for root in /usr/include /usr/lib/$arch /usr/share /etc /usr/lib; do
    [[ $f == "$root"/*/* ]] || continue
    rest=${f#"$root"/}
    first=$root/${rest%%/*}
    if dir_hideable "$first"; then cover=$first; return; fi
    rest=${rest#*/}
    [[ $rest == */* ]] || return 0
    second=$first/${rest%%/*}
    if dir_hideable "$second"; then cover=$second; fi
    return 0
  done
}

empty=$(mktemp -d)
declare -A covered=()
files=()
while read -r p; do
  while read -r f; do
    case $f in /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /usr/share/locale/* | /.) continue ;; esac
    [[ -e $f || -L $f ]] || continue
    [[ -d $f && ! -L $f ]] && continue
    cover_dir "$f"
    if [[ -n $cover ]]; then covered[$cover]=1; else files+=("$f"); fi
  done < <(dpkg -L "$p" 2> /dev/null)
done <<< "$hide_pkgs"
# Files first (a covered directory may hold the target of a symlink elsewhere), then directories.
nfiles=0
for f in "${files[@]}"; do
  [[ -L $f ]] && continue  # its target is hidden (or is not one of these packages' files)
  [[ -f $f ]] || continue
  mount --bind /dev/null "$f" && nfiles=$((nfiles + 1))
done
for d in "${!covered[@]}"; do mount --bind "$empty" "$d"; done
echo "prove_bundle: hid ${#covered[@]} directories and $nfiles files of $(wc -l <<< "$hide_pkgs") packages"
[[ ! -e /usr/include/boost/version.hpp && ! -s /usr/include/$arch/openssl/opensslconf.h ]] || {
  echo "prove_bundle: the system's Boost or OpenSSL headers are still visible" >&2
  exit 1
}

# CMake, ccache and the linker here load some of the libraries just hidden: they take the
# bundle's copies. The programs built are audited below without it (their run path only).
source "$WORK/prefix/mmaux-env.sh"
nccl=OFF
[[ -x /usr/local/cuda/bin/nvcc ]] && nccl=ON
launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMMAUX_GPU_SUBSET=ON -DMMAUX_DEPS_PREFIX="$WORK/prefix" -DMMAUX_WITH_NCCL=$nccl \
  "${launcher[@]}" > "$WORK/configure.log" 2>&1 || {
  tail -40 "$WORK/configure.log" >&2
  exit 1
}
grep -E "mmaux:|Found (MPI|HDF5|Boost|fmt|GTest|OpenSSL|nlohmann)" "$WORK/configure.log" || true
ninja -C "$WORK/build" -j "$jobs" > "$WORK/build.log" 2>&1 || {
  grep -B2 -A12 -m3 -E "error|FAILED" "$WORK/build.log" >&2
  exit 1
}
echo "prove_bundle: subset built ($(grep -c '' "$WORK/build.log") build steps)"

# ---- audit: headers --------------------------------------------------------------------------
# The toolchain, and libtorch-dev with what its headers include (Debian's 1.13 includes glog and
# gflags; a PyTorch install brings its own).
allowed_header_pkgs="libc6-dev linux-libc-dev libstdc++-12-dev libgcc-12-dev gcc-12 libgomp1 $(
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances libtorch-dev 2> /dev/null | grep -v '^ ' | grep -- '-dev$' | tr '\n' ' ')"
torch_inc=/usr/include
bad_headers=$(ninja -C "$WORK/build" -t deps | awk '/^    \// {print $1}' | sort -u |
  grep -v -e "^$src/" -e "^$WORK/" -e "^/usr/local/cuda" \
    -e "^$torch_inc/ATen/" -e "^$torch_inc/c10/" -e "^$torch_inc/torch/" -e "^$torch_inc/caffe2/" |
  while read -r h; do
    owner=$(dpkg -S "$h" 2> /dev/null | head -1 | sed 's/:.*//' || true)
    [[ -z $owner ]] && owner=$(dpkg -S "$(readlink -f "$h")" 2> /dev/null | head -1 | sed 's/:.*//' || true)
    grep -qw -- "${owner:-none}" <<< "$allowed_header_pkgs" || echo "$h (${owner:-no package})"
  done)
if [[ -n $bad_headers ]]; then
  echo "prove_bundle: headers read from outside the bundle and the toolchain:" >&2
  head -20 <<< "$bad_headers" >&2
  exit 1
fi
echo "prove_bundle: every header came from the tree, the bundle, libtorch, CUDA or the toolchain"

# ---- audit: shared libraries -----------------------------------------------------------------
torch_libs=$(ldd "$(readlink -f /usr/lib/$arch/libtorch.so)" | awk '/=>/ {print $3}' | xargs -r readlink -f | sort -u)
base_re='/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libgomp|libz|ld-linux-x86-64)\.so'
bad_libs=""
while read -r exe; do
  if ! env -u LD_LIBRARY_PATH ldd "$exe" > /dev/null 2>&1; then
    bad_libs+="$exe: ldd fails without LD_LIBRARY_PATH: $(env -u LD_LIBRARY_PATH ldd "$exe" 2>&1 | grep -v '=>' | head -2 || true)"$'\n'
    continue
  fi
  while read -r name path; do
    real=$(readlink -f "$path" 2> /dev/null || echo "$path")
    [[ $path == "not" ]] && { bad_libs+="$exe: $name not found"$'\n'; continue; }
    [[ $real == "$WORK/prefix/"* || $real == /usr/local/cuda* ]] && continue
    [[ $real =~ $base_re ]] && continue
    grep -qxF "$real" <<< "$torch_libs" && continue
    [[ $real == */libtorch* || $real == */libc10* ]] && continue
    bad_libs+="$exe: $name from $real"$'\n'
  done < <(env -u LD_LIBRARY_PATH ldd "$exe" | awk '/=>/ {print $1, $3}')
done < <(find "$WORK/build" -type f -perm -u+x -exec sh -c 'file -b "$1" | grep -q ELF' _ {} \; -print)
if [[ -n $bad_libs ]]; then
  echo "prove_bundle: libraries loaded from outside the bundle:" >&2
  sort -u <<< "$bad_libs" | head -20 >&2
  exit 1
fi
echo "prove_bundle: every shared library came from the bundle, libtorch, CUDA or the base system"

if [[ $run_tests == 1 ]]; then
  (cd "$WORK/build" && ctest -j "$jobs" --output-on-failure) 2>&1 | tail -25
  exit "${PIPESTATUS[0]}"
fi
