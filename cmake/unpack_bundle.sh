#!/usr/bin/env bash
# Unpacks a dependency bundle (cmake/bundle_deps.sh) into PREFIX without root and writes
# PREFIX/mmaux-env.sh, the environment that builds and runs against it:
#
#   bash cmake/unpack_bundle.sh BUNDLE PREFIX
#   source PREFIX/mmaux-env.sh      # before cmake, ctest and any mmaux binary
#   cmake -S . -B build -DMMAUX_GPU_SUBSET=ON -DMMAUX_DEPS_PREFIX=PREFIX ...
#
# The checksums of BUNDLE/SHA256SUMS are verified first. Uses dpkg-deb when the machine has it,
# else ar + tar (binutils). Then cmake/bundle_runpaths.py (Python 3, standard library) turns the
# DT_RUNPATH of the bundle's libraries (Debian's Open MPI names /usr/lib/<arch>/openmpi/lib) into
# a DT_RPATH relative to each library, so that a program built against the prefix loads the
# whole bundle through its own run path, without LD_LIBRARY_PATH. mmaux-env.sh puts the bundle's
# libraries on LD_LIBRARY_PATH (for the bundle's own programs: orterun) and tells Open MPI and
# PMIx where they were moved (OPAL_PREFIX, PMIx's plugin directory). Do not source it for Python:
# the bundle's OpenSSL would replace the machine's. PYTHON selects the interpreter (python3).
set -euo pipefail

BUNDLE=${1:?usage: unpack_bundle.sh BUNDLE PREFIX}
PREFIX=${2:?usage: unpack_bundle.sh BUNDLE PREFIX}
[[ -f $BUNDLE/SHA256SUMS ]] || {
  echo "unpack_bundle: $BUNDLE/SHA256SUMS not found: not a bundle made by cmake/bundle_deps.sh" >&2
  exit 1
}
(cd "$BUNDLE/debs" && sha256sum --quiet -c ../SHA256SUMS) || {
  echo "unpack_bundle: checksum mismatch in $BUNDLE/debs (see above); fetch the bundle again" >&2
  exit 1
}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)

extract() {  # extract DEB: into PREFIX
  if command -v dpkg-deb > /dev/null; then
    dpkg-deb -x "$1" "$PREFIX"
    return
  fi
  local tmp member
  tmp=$(mktemp -d)
  (cd "$tmp" && ar x "$1")
  member=$(ls "$tmp"/data.tar.*)
  tar -xf "$member" -C "$PREFIX"
  rm -rf "$tmp"
}

n=0
for deb in "$BUNDLE"/debs/*.deb; do
  extract "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
  n=$((n + 1))
done

arch=$(ls "$PREFIX/usr/lib" | grep -- '-linux-gnu$' | head -1)
lib=$PREFIX/usr/lib/$arch
[[ -f $lib/openmpi/include/mpi.h ]] || {
  echo "unpack_bundle: $lib/openmpi/include/mpi.h missing after unpacking: incomplete bundle" >&2
  exit 1
}
"${PYTHON:-python3}" "$(dirname "${BASH_SOURCE[0]}")/bundle_runpaths.py" "$PREFIX" > "$PREFIX/runpaths.log" || {
  cat "$PREFIX/runpaths.log" >&2
  echo "unpack_bundle: could not rewrite the run paths of the bundle's libraries (see above)" >&2
  exit 1
}
tail -1 "$PREFIX/runpaths.log"
cat > "$PREFIX/mmaux-env.sh" << EOF
# Environment for building and running mmaux against the bundle in $PREFIX (source it).
export MMAUX_DEPS_PREFIX=$PREFIX
export LD_LIBRARY_PATH=$lib:$PREFIX/lib/$arch\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export OPAL_PREFIX=$PREFIX/usr
export PMIX_PREFIX=$lib/pmix2
export PMIX_MCA_mca_base_component_path=$lib/pmix2/lib/pmix
EOF
cp "$BUNDLE/MANIFEST" "$PREFIX/MANIFEST"
echo "unpacked $n packages into $PREFIX; environment: source $PREFIX/mmaux-env.sh"
