#pragma once
#include <string>

namespace mmaux {
/// [model] section.
struct ModelOptions {
  std::string name = "ber-vit-concat";  ///< ber-vit-concat | ber-vit-att | vilt
  std::string preset = "tiny";          ///< tiny | small | ber-vit-base | vilt-b32
  std::string dir;                      ///< Hugging Face model directory ("" = random init)
  bool strict = true;                   ///< missing/unexpected tensors are errors
  /// A model directory without weight files builds its architecture randomly initialised (logged)
  /// instead of failing. Directories written by `mmaux synth` ("mmaux_preset") never need it.
  bool allow_no_weights = false;
  /// ViT position-embedding interpolation for images of another size than the checkpoint's:
  /// "scale-factor" (transformers <= 4.44: bicubic with scale (grid + 0.1) / sqrt(N), the paper's
  /// 4.25.1), "size" (transformers >= 4.45: bicubic to the target grid) or "auto" (scale-factor in
  /// paper mode, resolved by the trainer; else the model directory's config.json, else size).
  std::string vit_interpolation = "auto";
  double dropout = 0.05;  ///< classifier dropout
  bool freeze_text = false;
  bool freeze_image = false;
  bool reuse_frozen = true;  ///< reuse a frozen tower's output in the ITM pass
  /// Dropout inside the encoders (hidden and attention); < 0 keeps the config's values (BERT 0.1,
  /// ViT and ViLT 0). Set 0 for runs that must be deterministic across world sizes.
  double encoder_dropout = -1;
};
}  // namespace mmaux
