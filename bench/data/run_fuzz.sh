#!/usr/bin/env bash
# Builds the raw-format fuzz targets (csv posts file, MSD's Python-literal lines, MVSA's label
# file) with clang in their own build tree and fuzzes each for a while, starting from its
# committed corpus (tests/data/fuzz/<target>). New inputs go to a scratch corpus; with --merge,
# the committed corpus becomes its hand-written seeds (the files with a dot in their name) plus a
# greedy set cover of everything found (-set_cover_merge), which
# tests/preprocessing/test_fuzz_replay.cpp replays in `make test`.
# Usage: bench/data/run_fuzz.sh [seconds per target=60] [build-dir=build-fuzz] [--merge]
set -euo pipefail
seconds=${1:-60}
build=${2:-build-fuzz}
merge=${3:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
clangxx=$(command -v clang++ || command -v clang++-14 || ls /usr/lib/llvm-*/bin/clang++ | tail -1)
clangc=$(command -v clang || command -v clang-14 || ls /usr/lib/llvm-*/bin/clang | tail -1)
cmake -S "$src" -B "$build" -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_C_COMPILER="$clangc" \
  -DMMAUX_BUILD_FUZZ=ON -DMMAUX_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(csv_posts msd_lines mvsa_labels)
cmake --build "$build" --target "${targets[@]/#/fuzz_}" -j2
for t in "${targets[@]}"; do
  corpus="$src/tests/data/fuzz/$t"
  scratch="$build/fuzz-corpus/$t"
  mkdir -p "$scratch" "$build/fuzz-findings/$t"
  echo "== fuzz_$t: $seconds s"
  # -timeout: one input may take at most 5 s (a hang is a finding); -rss_limit_mb: 1 GB.
  "$build/bench/data/fuzz_$t" "$scratch" "$corpus" -max_total_time="$seconds" -max_len=4096 \
    -timeout=5 -rss_limit_mb=1024 -artifact_prefix="$build/fuzz-findings/$t/" \
    -print_final_stats=1
  if [ "$merge" = "--merge" ]; then
    merged="$build/fuzz-merged/$t"
    rm -rf "$merged" && mkdir -p "$merged"
    cp "$corpus"/*.* "$merged"/
    "$build/bench/data/fuzz_$t" -set_cover_merge=1 "$merged" "$corpus" "$scratch" -max_len=4096 \
      2>&1 | tail -1
    rm -f "$corpus"/* && cp "$merged"/* "$corpus"/
  fi
done
