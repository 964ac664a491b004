#!/usr/bin/env bash
# Builds the safetensors fuzz target with clang in its own build tree and fuzzes for a while,
# starting from the committed corpus (new inputs go to a scratch corpus, not the source tree).
# Usage: bench/model/run_fuzz.sh [seconds=300] [build-dir=build-fuzz]
set -euo pipefail
seconds=${1:-300}
build=${2:-build-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)
clangxx=$(command -v clang++ || command -v clang++-14 || ls /usr/lib/llvm-*/bin/clang++ | tail -1)
clangc=$(command -v clang || command -v clang-14 || ls /usr/lib/llvm-*/bin/clang | tail -1)
cmake -S "$src" -B "$build" -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_C_COMPILER="$clangc" \
  -DMMAUX_BUILD_FUZZ=ON -DMMAUX_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_safetensors -j2
scratch="$build/fuzz-corpus"
mkdir -p "$scratch" "$build/fuzz-findings"
# libtorch keeps allocations alive for the process: leak reports would only be noise.
ASAN_OPTIONS=detect_leaks=0 "$build/bench/model/fuzz_safetensors" "$scratch" \
  "$src/tests/data/safetensors" -max_total_time="$seconds" -max_len=4096 \
  -artifact_prefix="$build/fuzz-findings/" -print_final_stats=1
