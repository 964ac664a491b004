#!/usr/bin/env bash
# Fetches the headers of libtorch 2.x from Debian trixie (libtorch-dev: CPU; libtorch-cuda-dev:
# CUDA build, from contrib) without touching the system's apt configuration (a private sources
# list, package lists and cache under OUT), and unpacks them:
#
#   bash cmake/fetch_torch_headers.sh OUT     # OUT/cpu/usr/include, OUT/cuda/usr/include
#   python3 cmake/check_torch_syntax.py --build build --torch-root OUT/cpu
#   python3 cmake/check_torch_syntax.py --build build --torch-root OUT/cuda \
#       --define MMAUX_TORCH_CUDA=1 --include /usr/local/cuda/include --filter nccl
#
# Only headers are used (the -dev packages; no libraries are installed or linked).
set -euo pipefail
OUT=${1:?usage: fetch_torch_headers.sh OUT}
SUITE=${MMAUX_TORCH_SUITE:-trixie}
mkdir -p "$OUT/apt/lists/partial" "$OUT/apt/cache/archives/partial" "$OUT/debs"
OUT=$(cd "$OUT" && pwd)
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main contrib" > "$OUT/apt/sources.list"
: > "$OUT/apt/status"
opts=(-o Dir::Etc::SourceList="$OUT/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o Dir::State::Lists="$OUT/apt/lists" -o Dir::Cache="$OUT/apt/cache"
  -o Dir::State::status="$OUT/apt/status" -o APT::Get::List-Cleanup=0)
apt-get "${opts[@]}" update > /dev/null
(cd "$OUT/debs" && apt-get "${opts[@]}" download libtorch-dev libtorch-cuda-dev 2>&1 | grep -v unsandboxed || true)
rm -rf "$OUT/cpu" "$OUT/cuda"
dpkg-deb -x "$OUT"/debs/libtorch-dev_*.deb "$OUT/cpu"
dpkg-deb -x "$OUT"/debs/libtorch-cuda-dev_*.deb "$OUT/cuda"
grep -h "define TORCH_VERSION_M" "$OUT/cpu/usr/include/torch/csrc/api/include/torch/version.h"
echo "headers in $OUT/cpu and $OUT/cuda"
