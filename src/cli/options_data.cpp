#include "cli/command.h"

namespace mmaux::cli {

void declare_data_options(OptionSet& set, DataOptions& o) {
  set.group("Data")
      // Moving the data does not change it: a resumed run checks the data's fingerprint.
      .add("data.dir", &o.dir, "directory with manifest.json and shards (from mmaux preprocess)")
      .bookkeeping()
      .add("data.batch-size", &o.batch_size, "global batch size, split across ranks",
           int_range(1, 1 << 20))
      .add("data.eval-batch-size", &o.eval_batch_size, "global evaluation batch size",
           int_range(1, 1 << 20))
      .add("data.drop-last", &o.drop_last, "drop the last incomplete training batch of an epoch")
      .add("data.prefetch", &o.prefetch, "batches prepared ahead (0 = no background prefetch)",
           int_range(0, 1024))
      .bookkeeping()
      .add("data.loader-threads", &o.loader_threads, "background loader threads per rank",
           int_range(1, 64))
      .bookkeeping();
}

void declare_synth_options(OptionSet& set, SynthOptions& o) {
  set.group("Synthetic data set")
      .add("out", &o.out, "output directory", required("give --out DIR"))
      .add("posts", &o.posts, "number of posts", int_range(1, 10000000))
      .add("unlabeled", &o.unlabeled,
           "also write this many posts without labels to OUT/unlabeled (posts.csv without a label "
           "column, images/), for mmaux pretrain",
           int_range(0, 10000000))
      .add("seed", &o.seed, "random seed (same seed, same files)")
      .add("image-size", &o.image_size, "image width in pixels (height too unless --image-height)",
           int_range(16, 4096))
      .add("image-height", &o.image_height, "image height in pixels (0 = square)",
           int_range(0, 4096))
      .add("threads", &o.threads, "image-writing threads (0 = all cores)", int_range(0, 1024))
      .add("png-fraction", &o.png_fraction, "share of images written as PNG", in_range(0, 1))
      .add("class-balance", &o.class_balance, "comma-separated class weights (\"\" = uniform)")
      .add("relation-mix", &o.relation_mix, "weights of the relations describes,loose,unrelated")
      .add("decided-by-mix", &o.decided_by_mix, "weights of labels decided by text,image,both")
      .add("label-noise", &o.label_noise, "probability of a random label", in_range(0, 1))
      .add("region-feature-dim", &o.region_feature_dim,
           "> 0: also write OUT/regions.h5, synthetic region features of this many dimensions "
           "(for mmaux preprocess --region-features; 2048 = LXMERT's)",
           int_range(0, 65536));
}

void declare_preprocess_options(OptionSet& set, PreprocessOptions& o) {
  set.group("Preprocessing")
      .add("dataset", &o.dataset, "tir, mvsa, mhp, msd, micd or csv")
      .add("raw", &o.raw, "directory of the raw files as distributed", required("give --raw DIR"))
      .add("out", &o.out, "output directory (shards, manifest.json, skipped.csv)",
           required("give --out DIR"))
      .add("model", &o.model, "model directory with tokenizer files and config.json",
           required("give --model DIR"))
      .add("image-preset", &o.image_preset, "image preset (\"\" = from the model's config.json)")
      .add("csv-file", &o.csv_file, "csv layout: the posts file under --raw")
      .add("image-template", &o.image_template, "csv layout: image path under --raw")
      .add("classes", &o.classes,
           "csv layout: the label set a,b,c in class id order (other labels are skipped; \"\" = "
           "the sorted labels found)")
      .add("seed", &o.seed, "seed of random splits (written to the manifest)")
      .add("split-fractions", &o.split_fractions,
           "train,validation,test fractions of random splits")
      .add("shard-size", &o.shard_size, "posts per shard", int_range(1, 1 << 24))
      .add("threads", &o.threads, "worker threads per rank (0 = the node's cores / its ranks)",
           int_range(0, 1024))
      .add("max-skip-fraction", &o.max_skip_fraction,
           "fail when more than this share of the posts not filtered is skipped", in_range(0, 1))
      .add("max-image-pixels", &o.max_image_pixels,
           "skip images whose header declares more pixels, before decoding (0 = no limit)",
           int_range(0, 1LL << 40))
      .add("max-image-bytes", &o.max_image_bytes,
           "skip image files larger than this (0 = no limit)", int_range(0, 1LL << 40))
      .add("force", &o.force, "rebuild even when the output is up to date")
      .add("region-features", &o.region_features,
           "region features to store with each post (LXMERT): an HDF5 file "
           "(/{post_id}/roi_features [n, F], /{post_id}/normalized_boxes [n, 4], n <= 36) or the "
           "paper scripts' directory (features/feat_{id}, boxes/nbox_{id}: torch.save files), or "
           "'grid' (6x6 cells of a ResNet's feature map, not the paper's features: see "
           "--region-grid-model); F = the model's visual_feat_dim (2048)")
      .add("region-grid-model", &o.region_grid_model,
           "--region-features grid: a ResNet directory (config.json with timm's architecture or "
           "mmaux's layers/planes, and model.safetensors or pytorch_model.bin)");
}

}  // namespace mmaux::cli
