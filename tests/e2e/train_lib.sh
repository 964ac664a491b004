# Shared by the trainer's end-to-end tests: a small synthetic data set and launch helpers.
# Needs MMAUX_BIN (the mmaux binary) and MPIEXEC from ctest.
set -euo pipefail
MMAUX=${MMAUX_BIN:?run through ctest}
MPIRUN=${MPIEXEC:-mpirun}

fail() { echo "FAIL: $*" >&2; exit 1; }

# make_data DIR: synth + preprocess (200 posts, tiny preset).
make_data() {
  local dir=$1
  "$MMAUX" synth --out "$dir/raw" --posts 200 --seed 3 --log.level warn
  "$MMAUX" preprocess --dataset csv --raw "$dir/raw" --out "$dir/shards" --model "$dir/raw/model" \
    --log.level warn
}

# make_region_data DIR POSTS DIM: synth with DIM-dimensional synthetic region features +
# preprocess --region-features (what --model.name lxmert reads).
make_region_data() {
  local dir=$1 posts=$2 dim=$3
  "$MMAUX" synth --out "$dir/raw" --posts "$posts" --seed 3 --region-feature-dim "$dim" \
    --log.level warn
  "$MMAUX" preprocess --dataset csv --raw "$dir/raw" --out "$dir/shards" --model "$dir/raw/model" \
    --region-features "$dir/raw/regions.h5" --log.level warn
}

# train RANKS RUN_DIR DATA_DIR [extra options...]: one training run under mpirun (of
# `mmaux $MMAUX_COMMAND`: train unless set, e.g. pretrain).
train() {
  local ranks=$1 run=$2 data=$3
  shift 3
  "$MPIRUN" -np "$ranks" "$MMAUX" "${MMAUX_COMMAND:-train}" --data.dir "$data" --model.preset tiny \
    --data.batch-size 16 --data.eval-batch-size 64 --train.epochs 2 --train.lr 1e-3 \
    --train.out "$run" --dist.threads 1 --train.log-every 1 "$@"
}

# step_losses RUN_DIR: "step loss" lines of metrics.jsonl (last record per step wins).
step_losses() {
  grep '"kind":"step"' "$1/metrics.jsonl" |
    sed -E 's/.*"loss":([^,]*),.*"step":([0-9]+).*/\2 \1/' | sort -n -k1,1 -s |
    awk '{last[$1]=$2} END {for (s in last) print s, last[s]}' | sort -n
}
