#!/usr/bin/env bash
# Builds a checkpoint-parser fuzz target with clang in its own build tree and fuzzes for a while,
# starting from the committed corpus (new inputs go to a scratch corpus, not the source tree).
# Usage: bench/model/run_fuzz.sh [seconds=300] [build-dir=build-fuzz] [target=safetensors|torch_bin]
set -euo pipefail
seconds=${1:-300}
build=${2:-build-fuzz}
target=${3:-safetensors}
case "$target" in
  safetensors) max_len=4096 ;;
  torch_bin) max_len=8192 ;;
  *) echo "unknown fuzz target '$target' (safetensors or torch_bin)" >&2; exit 2 ;;
esac
src=$(cd "$(dirname "$0")/../.." && pwd)
clangxx=$(command -v clang++ || command -v clang++-14 || ls /usr/lib/llvm-*/bin/clang++ | tail -1)
clangc=$(command -v clang || command -v clang-14 || ls /usr/lib/llvm-*/bin/clang | tail -1)
cmake -S "$src" -B "$build" -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_C_COMPILER="$clangc" \
  -DMMAUX_BUILD_FUZZ=ON -DMMAUX_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target "fuzz_$target" -j2
scratch="$build/fuzz-corpus-$target"
mkdir -p "$scratch" "$build/fuzz-findings"
# libtorch keeps allocations alive for the process: leak reports would only be noise.
ASAN_OPTIONS=detect_leaks=0 "$build/bench/model/fuzz_$target" "$scratch" \
  "$src/tests/data/$target" -max_total_time="$seconds" -max_len="$max_len" \
  -artifact_prefix="$build/fuzz-findings/$target-" -print_final_stats=1
