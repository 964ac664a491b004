#pragma once
/// ResNet-50/101/152 in torchvision's layout (V1.5: the stride of a bottleneck sits on its 3×3
/// convolution), without the classification head: pixels [b, 3, H, W] → the layer4 feature map
/// [b, C, h, w] → N pooled embeddings [b, N, C] (adaptive average pooling, the grid of
/// pooling_grid(N)).
///
/// Parameter and buffer names are torchvision's (and timm's) state-dict keys: conv1.weight,
/// bn1.{weight,bias,running_mean,running_var,num_batches_tracked}, layerK.i.convJ.weight,
/// layerK.i.bnJ.*, layerK.0.downsample.0.weight, layerK.0.downsample.1.*. A checkpoint's fc.* is
/// not a parameter here (load it with kResNetIgnore).
///
/// BatchNorm: in train mode each forward normalises with the batch's statistics and updates the
/// running statistics (momentum, unbiased variance) and num_batches_tracked, exactly as
/// torch.nn.BatchNorm2d; in eval mode (or after freeze_batch_norm) it uses the running statistics.
/// Statistics are those of the rows this process sees (no synchronisation across ranks).

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/model/state_dict.h"

namespace mmaux::model {

/// The shape of a ResNet (torchvision's ResNet(Bottleneck, layers) with its widths).
struct ResNetConfig {
  std::vector<int64_t> layers = {3, 8, 36, 3};        ///< bottlenecks per stage (152)
  int64_t stem_width = 64;                            ///< conv1 output channels
  std::vector<int64_t> planes = {64, 128, 256, 512};  ///< bottleneck width per stage
  int64_t expansion = 4;                              ///< stage output = planes × expansion
  double batch_norm_eps = 1e-5;
  double batch_norm_momentum = 0.1;

  /// Channels of the layer4 map: planes.back() × expansion (2048 for ResNet-50/101/152).
  int64_t num_features() const { return planes.back() * expansion; }
};

/// Checkpoint keys a ResNet loader skips: the ImageNet classifier.
inline const std::vector<std::string> kResNetIgnore = {"fc."};

/// The standard depths: 50 → {3, 4, 6, 3}, 101 → {3, 4, 23, 3}, 152 → {3, 8, 36, 3}; other depths
/// throw ConfigError.
ResNetConfig resnet_config(int depth);

/// The adaptive pooling grid (rows, columns) of N image embeddings, N in 1..9 (the mm-imdb
/// example's POOLING_BREAKDOWN: 1→1×1, 2→2×1, 3→3×1, 4→2×2, 5→5×1, 6→3×2, 7→7×1, 8→4×2, 9→3×3);
/// other N throw ConfigError.
std::pair<int64_t, int64_t> pooling_grid(int64_t n);

/// Reads a ResNet config.json: either mmaux's keys (layers, stem_width, planes, expansion,
/// batch_norm_eps, batch_norm_momentum; what resnet_config_json writes) or timm's
/// ("architecture": "resnet50" | "resnet101" | "resnet152", optionally with a ".tv_in1k"-style
/// tag). Throws DataError naming `origin` on anything else.
ResNetConfig parse_resnet_config(const std::string& json_text, const std::string& origin);
/// The config.json text of a ResNet (mmaux's keys plus "architecture": "resnet").
std::string resnet_config_json(const ResNetConfig& c);
/// Throws ConfigError naming the field unless every size is positive and the lists have 4 entries.
void validate(const ResNetConfig& c);

/// Forward FLOPs (2 × multiply-adds of the convolutions) of one image of `height` × `width`.
double resnet_flops(const ResNetConfig& c, int64_t height, int64_t width);

/// BatchNorm2d with torchvision's names: parameters weight, bias; buffers running_mean,
/// running_var, num_batches_tracked (int64 scalar).
class BatchNorm2d : public torch::nn::Module {
 public:
  BatchNorm2d(int64_t channels, double eps, double momentum);
  at::Tensor forward(const at::Tensor& x);
  /// As Module::to, but num_batches_tracked stays int64 (as torch.nn.Module.to keeps it).
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  using torch::nn::Module::to;
  /// Normalise with the running statistics even in train mode, and stop updating them.
  void set_frozen(bool frozen) { frozen_ = frozen; }

 private:
  at::Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
  double eps_, momentum_;
  bool frozen_ = false;
};

class ResNetConv;
class Bottleneck;

/// The ResNet trunk: conv1, bn1, ReLU, max-pool 3×3/2, layer1..layer4.
class ResNet : public torch::nn::Module {
 public:
  explicit ResNet(const ResNetConfig& config);

  /// pixels float [b, 3, H, W] (H, W ≥ 1) → the layer4 map [b, num_features, h, w]
  /// (h = ⌈H / 32⌉ for the usual sizes, as torchvision computes it).
  at::Tensor features(const at::Tensor& pixels);
  /// A layer4 map → N embeddings [b, N, C] by adaptive average pooling to pooling_grid(N),
  /// row-major over the grid (flatten(2).transpose(1, 2), as the mm-imdb ImageEncoder).
  static at::Tensor pool(const at::Tensor& features, int64_t n);
  /// pool(features(pixels), n).
  at::Tensor forward(const at::Tensor& pixels, int64_t n = 1) { return pool(features(pixels), n); }

  /// Every BatchNorm uses its running statistics from now on (frozen = true) or the batch's in
  /// train mode again (false).
  void freeze_batch_norm(bool frozen);
  const ResNetConfig& config() const { return config_; }

 private:
  ResNetConfig config_;
  std::shared_ptr<ResNetConv> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<Bottleneck>> blocks_;  ///< layer1.0 ... layer4.last, in order
  std::vector<std::shared_ptr<BatchNorm2d>> norms_;  ///< every BatchNorm
};

/// Loads torchvision / timm ResNet weights from the directory `dir` (model.safetensors,
/// pytorch_model.bin or their sharded forms, as read_hf_weights finds them) into `resnet`: fc.* is
/// skipped (listed in the report), a missing num_batches_tracked is set to 0. With `strict`,
/// anything else missing, unexpected or mis-shaped is a DataError listing it. Not collective.
LoadReport load_resnet_weights(ResNet& resnet, const std::string& dir, bool strict = true);

/// A ResNet directory: config.json (parse_resnet_config) and weights (load_resnet_weights).
std::shared_ptr<ResNet> load_resnet(const std::string& dir, bool strict = true);

}  // namespace mmaux::model
