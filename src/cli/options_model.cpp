#include "cli/command.h"

namespace mmaux::cli {

void declare_model_options(OptionSet& set, ModelOptions& o) {
  set.group("Model")
      .add("model.name", &o.name, "ber-vit-concat, ber-vit-att, vilt, mmbt or lxmert")
      .add("model.preset", &o.preset,
           "tiny, small, ber-vit-base, vilt-b32, mmbt-base or lxmert-base")
      .add("model.dir", &o.dir, "Hugging Face model directory to load (\"\" = random init)")
      .add("model.strict", &o.strict, "missing or unexpected checkpoint tensors are errors")
      .add("model.allow-no-weights", &o.allow_no_weights,
           "a model directory without weight files is randomly initialised instead of an error")
      .add("model.vit-interpolation", &o.vit_interpolation,
           "ViT position interpolation: scale-factor (transformers <= 4.44, the paper), size "
           "(>= 4.45) or auto (scale-factor with train.paper, else the directory's config.json, "
           "else size)")
      .add("model.dropout", &o.dropout, "classifier dropout", in_range(0, 1))
      .add("model.freeze-text", &o.freeze_text, "freeze the text tower")
      .add("model.freeze-image", &o.freeze_image, "freeze the image tower (paper: ber-vit-*)")
      .add("model.reuse-frozen", &o.reuse_frozen,
           "reuse a frozen tower's output in the ITM pass instead of recomputing it")
      .add("model.encoder-dropout", &o.encoder_dropout,
           "dropout inside the encoders; < 0 keeps the config's values (BERT 0.1, ViT 0)")
      .add("model.mmbt-mode", &o.mmbt_mode,
           "mmbt ITC/ITM: paper (the paper's code, incl. its ITM quirk), fixed, or auto (paper "
           "with train.paper, else fixed)")
      .add("model.image-embeds", &o.image_embeds, "mmbt: pooled ResNet embeddings N (paper 1)",
           int_range(1, 9))
      .add("model.itc-pooling", &o.itc_pooling,
           "where the ITC vectors are read from: pooler (the towers' poolers, the paper), cls "
           "(the first token's state) or mean (the mean of the real tokens' / patches' states); "
           "mmbt and lxmert: pooler only");
}

}  // namespace mmaux::cli
