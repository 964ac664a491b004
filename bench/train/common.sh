# Shared by bench_train.sh and bench_layouts.sh (sourced): synthetic shards for a model preset.
# Needs $mmaux (the mmaux executable) and $work (a scratch directory).

prepare() {  # prepare PRESET IMAGE_SIZE -> $work/PRESET/shards
  local p=$1 size=$2
  "$mmaux" synth --out "$work/$p/raw" --posts 800 --seed 1 --image-size "$size" --log.level warn > /dev/null
  sed -i -E "s/\"mmaux_preset\": *\"tiny\"/\"mmaux_preset\": \"$p\"/; s/\"image_size\": *[0-9]+/\"image_size\": $size/" \
    "$work/$p/raw/model/config.json"
  "$mmaux" preprocess --dataset csv --raw "$work/$p/raw" --out "$work/$p/shards" \
    --model "$work/$p/raw/model" --log.level warn > /dev/null
}

prepare_lxmert() {  # prepare_lxmert PRESET IMAGE_SIZE -> $work/lxmert-PRESET/shards
  # The same synthetic posts with 2048-d synthetic region features stored in the shards.
  local p=$1 size=$2 d="$work/lxmert-$1"
  "$mmaux" synth --out "$d/raw" --posts 800 --seed 1 --image-size "$size" --region-feature-dim 2048 \
    --log.level warn > /dev/null
  sed -i -E "s/\"mmaux_preset\": *\"tiny\"/\"mmaux_preset\": \"$p\"/" "$d/raw/model/config.json"
  "$mmaux" preprocess --dataset csv --raw "$d/raw" --out "$d/shards" --model "$d/raw/model" \
    --region-features "$d/raw/regions.h5" --log.level warn > /dev/null
}
