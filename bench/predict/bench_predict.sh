#!/usr/bin/env bash
# Throughput of `mmaux predict` from raw files (JPEG/PNG decoding, text normalisation and
# tokenisation included): posts/s for the tiny and small presets (ber-vit-concat), for intra-op
# threads:decoding threads 1:1, 2:1 and 2:2 (PREDICT_CONFIGS), and where the time goes (the scoring thread's wait for decoded posts, the
# forward passes, decoding CPU-ms per post). Prints figures; never passes or fails on time.
#   bash build/bench/predict/bench_predict.sh [BUILD_DIR] [POSTS] [IMAGE_W] [IMAGE_H]
# Images are drawn at IMAGE_W x IMAGE_H (default 600 x 450, a typical post photo) and resized by
# predict to the preset's size, as preprocessing does.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
posts=${2:-600}
width=${3:-600}
height=${4:-450}
mmaux="$build/bin/mmaux"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

"$mmaux" synth --out "$work/raw" --posts "$posts" --seed 1 --image-size "$width" \
  --image-height "$height" --log.level warn > /dev/null
printf '%-6s %-8s %-8s %9s  %s\n' preset intra-op decoding posts/s "summary (mmaux predict's log)"
for preset in tiny small; do
  size=64; [ "$preset" = small ] && size=128
  # A checkpoint of the preset: shards at its image size, one training step (the weights do not
  # change the cost of a forward pass).
  model=$work/model-$preset
  cp -r "$work/raw/model" "$model"
  sed -i -E "s/\"mmaux_preset\": *\"tiny\"/\"mmaux_preset\": \"$preset\"/; s/\"image_size\": *[0-9]+/\"image_size\": $size/" \
    "$model/config.json"
  "$mmaux" preprocess --dataset csv --raw "$work/raw" --out "$work/shards-$preset" \
    --model "$model" --log.level warn > /dev/null
  "$mmaux" train --data.dir "$work/shards-$preset" --model.preset "$preset" \
    --train.max-steps 1 --train.out "$work/run-$preset" --log.level warn > /dev/null 2>&1
  for cfg in ${PREDICT_CONFIGS:-1:1 2:1 2:2}; do
    threads=${cfg%%:*} decode=${cfg##*:}
    start=$(date +%s.%N)
    "$mmaux" predict --checkpoint "$work/run-$preset/best" --input "$work/raw/posts.csv" \
      --out "$work/out.csv" --decode-threads "$decode" --threads "$threads" \
      --log.level info 2> "$work/log"
    end=$(date +%s.%N)
    summary=$(grep -o "rows:.*" "$work/log" | tail -1)
    printf '%-6s %-8s %-8s %9.1f  %s\n' "$preset" "$threads" "$decode" \
      "$(echo "$posts / ($end - $start)" | bc -l)" "$summary"
  done
done
echo "(posts/s here is the whole command, model loading included; the log's figure is the loop)"
