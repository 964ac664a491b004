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
};
}  // namespace mmaux
