#pragma once
#include <string>

namespace mmaux {
/// [model] section.
struct ModelOptions {
  std::string name = "ber-vit-concat";  ///< ber-vit-concat | ber-vit-att | vilt
  std::string preset = "tiny";          ///< tiny | small | ber-vit-base | vilt-b32
  std::string dir;                      ///< Hugging Face model directory ("" = random init)
  bool strict = true;                   ///< missing/unexpected tensors are errors
  double dropout = 0.05;                ///< classifier dropout
  bool freeze_text = false;
  bool freeze_image = false;
  bool reuse_frozen = true;  ///< reuse a frozen tower's output in the ITM pass
  /// Dropout inside the encoders (hidden and attention); < 0 keeps the config's values (BERT 0.1,
  /// ViT and ViLT 0). Set 0 for runs that must be deterministic across world sizes.
  double encoder_dropout = -1;
};
}  // namespace mmaux
