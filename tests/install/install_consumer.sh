#!/usr/bin/env bash
# `cmake --install` then find_package(mmaux) from another project: configure, build, run.
# Usage: install_consumer.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for f in bin/mmaux include/mmaux/core/error.h lib/cmake/mmaux/mmauxConfig.cmake; do
  [ -e "$work/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
cmake -S "$here/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/cfg.log" 2>&1 ||
  { cat "$work/cfg.log"; echo "FAIL: find_package(mmaux) failed"; exit 1; }
cmake --build "$work/consumer" > "$work/build.log" 2>&1 || { cat "$work/build.log"; echo "FAIL: build"; exit 1; }
"$work/consumer/consumer"
"$work/prefix/bin/mmaux" version | head -1
echo "PASS: installed mmaux found and used by another project"
