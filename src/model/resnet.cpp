#include "mmaux/model/resnet.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <regex>

#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "model/json_util.h"
#include "model/shape.h"

namespace mmaux::model {

using nlohmann::json;

ResNetConfig resnet_config(int depth) {
  ResNetConfig c;
  if (depth == 50) {
    c.layers = {3, 4, 6, 3};
  } else if (depth == 101) {
    c.layers = {3, 4, 23, 3};
  } else {
    MMAUX_CHECK_CONFIG(depth == 152, "ResNet depth {} is not one of 50, 101, 152", depth);
  }
  return c;
}

std::pair<int64_t, int64_t> pooling_grid(int64_t n) {
  static const std::pair<int64_t, int64_t> kGrid[] = {{1, 1}, {2, 1}, {3, 1}, {2, 2}, {5, 1},
                                                      {3, 2}, {7, 1}, {4, 2}, {3, 3}};
  MMAUX_CHECK_CONFIG(n >= 1 && n <= 9, "number of image embeddings {} is not in 1..9", n);
  return kGrid[n - 1];
}

void validate(const ResNetConfig& c) {
  MMAUX_CHECK_CONFIG(c.layers.size() == 4 && c.planes.size() == 4,
                     "ResNet config: layers and planes need 4 entries (one per stage), got {} "
                     "and {}",
                     c.layers.size(), c.planes.size());
  for (size_t k = 0; k < 4; ++k) {
    MMAUX_CHECK_CONFIG(c.layers[k] > 0 && c.planes[k] > 0,
                       "ResNet config: stage {} has {} blocks of width {}; both must be positive",
                       k + 1, c.layers[k], c.planes[k]);
  }
  MMAUX_CHECK_CONFIG(c.stem_width > 0 && c.expansion > 0,
                     "ResNet config: stem_width {} and expansion {} must be positive", c.stem_width,
                     c.expansion);
  MMAUX_CHECK_CONFIG(
      c.batch_norm_eps > 0 && c.batch_norm_momentum >= 0 && c.batch_norm_momentum <= 1,
      "ResNet config: batch_norm_eps {} must be > 0 and batch_norm_momentum {} in "
      "[0, 1]",
      c.batch_norm_eps, c.batch_norm_momentum);
}

ResNetConfig parse_resnet_config(const std::string& json_text, const std::string& origin) {
  json j = parse_json_object(json_text, origin);
  ResNetConfig c;
  std::string arch;
  get_to(j, "architecture", arch, origin);
  if (!j.contains("layers")) {
    // timm: "resnet152", "resnet152.tv_in1k", ...
    std::smatch m;
    MMAUX_CHECK_DATA(std::regex_match(arch, m, std::regex(R"(resnet(50|101|152)(\..*)?)")),
                     "{}: not a ResNet config (no 'layers' and architecture '{}' is not "
                     "resnet50, resnet101 or resnet152)",
                     origin, arch);
    c = resnet_config(std::stoi(m[1].str()));
  }
  auto list = [&](const char* key, std::vector<int64_t>& out) {
    if (!j.contains(key)) return;
    MMAUX_CHECK_DATA(j[key].is_array() && j[key].size() == 4,
                     "{}: '{}' must be a list of 4 integers, got {}", origin, key, j[key].dump());
    out.clear();
    for (const auto& v : j[key]) {
      MMAUX_CHECK_DATA(v.is_number_integer(), "{}: '{}' must hold integers, got {}", origin, key,
                       j[key].dump());
      out.push_back(v.get<int64_t>());
    }
  };
  list("layers", c.layers);
  list("planes", c.planes);
  get_to(j, "stem_width", c.stem_width, origin);
  get_to(j, "expansion", c.expansion, origin);
  get_to(j, "batch_norm_eps", c.batch_norm_eps, origin);
  get_to(j, "batch_norm_momentum", c.batch_norm_momentum, origin);
  int64_t groups = 1, width_per_group = 64;
  get_to(j, "groups", groups, origin);
  get_to(j, "width_per_group", width_per_group, origin);
  MMAUX_CHECK_DATA(groups == 1 && width_per_group == 64,
                   "{}: groups {} / width_per_group {} (ResNeXt, wide ResNet) are not supported; "
                   "mmaux implements groups 1, width 64",
                   origin, groups, width_per_group);
  if (j.contains("replace_stride_with_dilation")) {
    for (const auto& v : j["replace_stride_with_dilation"]) {
      MMAUX_CHECK_DATA(v.is_boolean() && !v.get<bool>(),
                       "{}: replace_stride_with_dilation {} is not supported (no dilation)", origin,
                       j["replace_stride_with_dilation"].dump());
    }
  }
  try {
    validate(c);
  } catch (const ConfigError& e) {
    MMAUX_THROW(DataError, "{}: {}", origin, e.what());
  }
  return c;
}

std::string resnet_config_json(const ResNetConfig& c) {
  return json{{"architecture", "resnet"},
              {"block", "Bottleneck"},
              {"layers", c.layers},
              {"stem_width", c.stem_width},
              {"planes", c.planes},
              {"expansion", c.expansion},
              {"num_features", c.num_features()},
              {"batch_norm_eps", c.batch_norm_eps},
              {"batch_norm_momentum", c.batch_norm_momentum}}
      .dump(2);
}

double resnet_flops(const ResNetConfig& c, int64_t height, int64_t width) {
  auto out = [](int64_t x, int64_t k, int64_t s, int64_t p) { return (x + 2 * p - k) / s + 1; };
  auto conv = [](int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t k) {
    return 2.0 * static_cast<double>(h * w) * static_cast<double>(cin * cout * k * k);
  };
  int64_t h = out(height, 7, 2, 3), w = out(width, 7, 2, 3);
  double flops = conv(h, w, 3, c.stem_width, 7);
  h = out(h, 3, 2, 1);
  w = out(w, 3, 2, 1);
  int64_t in = c.stem_width;
  for (size_t k = 0; k < 4; ++k) {
    const int64_t planes = c.planes[k], outc = planes * c.expansion;
    for (int64_t i = 0; i < c.layers[k]; ++i) {
      const int64_t s = (i == 0 && k > 0) ? 2 : 1;
      const int64_t h2 = out(h, 3, s, 1), w2 = out(w, 3, s, 1);
      flops += conv(h, w, in, planes, 1) + conv(h2, w2, planes, planes, 3) +
               conv(h2, w2, planes, outc, 1);
      if (i == 0 && (s != 1 || in != outc)) flops += conv(h2, w2, in, outc, 1);
      h = h2;
      w = w2;
      in = outc;
    }
  }
  return flops;
}

BatchNorm2d::BatchNorm2d(int64_t channels, double eps, double momentum)
    : eps_(eps), momentum_(momentum) {
  weight_ = register_parameter("weight", at::ones({channels}));
  bias_ = register_parameter("bias", at::zeros({channels}));
  running_mean_ = register_buffer("running_mean", at::zeros({channels}));
  running_var_ = register_buffer("running_var", at::ones({channels}));
  num_batches_tracked_ = register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
}

at::Tensor BatchNorm2d::forward(const at::Tensor& x) {
  const bool batch_stats = is_training() && !frozen_;
  if (batch_stats) {
    at::NoGradGuard no_grad;
    num_batches_tracked_.add_(1);
  }
  // In train mode at::batch_norm updates the running statistics in place (unbiased variance),
  // the kernel torch.nn.BatchNorm2d calls.
  return at::batch_norm(x, weight_, bias_, running_mean_, running_var_, batch_stats, momentum_,
                        eps_, /*cudnn_enabled=*/true);
}

void BatchNorm2d::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  num_batches_tracked_.set_data(num_batches_tracked_.to(at::kLong));
}

void BatchNorm2d::to(torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(dtype, non_blocking);
  num_batches_tracked_.set_data(num_batches_tracked_.to(at::kLong));
}

/// A bias-free convolution (torchvision's conv1x1 / conv3x3 / the 7×7 stem): parameter `weight`,
/// initialised with kaiming_normal_(mode="fan_out", nonlinearity="relu") as torchvision does.
class ResNetConv : public torch::nn::Module {
 public:
  ResNetConv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding)
      : stride_(stride), padding_(padding) {
    weight_ = register_parameter("weight", at::empty({out, in, kernel, kernel}));
    at::NoGradGuard no_grad;
    weight_.normal_(0.0, std::sqrt(2.0 / static_cast<double>(out * kernel * kernel)));
  }
  at::Tensor forward(const at::Tensor& x) const {
    return at::conv2d(x, weight_, {}, {stride_, stride_}, {padding_, padding_});
  }

 private:
  at::Tensor weight_;
  int64_t stride_, padding_;
};

/// torchvision's Bottleneck (V1.5): conv1 1×1, bn1, ReLU, conv2 3×3 with the stride, bn2, ReLU,
/// conv3 1×1, bn3, plus the identity or downsample.{0: conv 1×1 strided, 1: BatchNorm}, ReLU.
class Bottleneck : public torch::nn::Module {
 public:
  Bottleneck(int64_t in, int64_t planes, int64_t out, int64_t stride, const ResNetConfig& c,
             std::vector<std::shared_ptr<BatchNorm2d>>& norms) {
    auto norm = [&](const std::string& name, int64_t channels, torch::nn::Module& parent) {
      auto bn = parent.register_module(
          name, std::make_shared<BatchNorm2d>(channels, c.batch_norm_eps, c.batch_norm_momentum));
      norms.push_back(bn);
      return bn;
    };
    conv1_ = register_module("conv1", std::make_shared<ResNetConv>(in, planes, 1, 1, 0));
    bn1_ = norm("bn1", planes, *this);
    conv2_ = register_module("conv2", std::make_shared<ResNetConv>(planes, planes, 3, stride, 1));
    bn2_ = norm("bn2", planes, *this);
    conv3_ = register_module("conv3", std::make_shared<ResNetConv>(planes, out, 1, 1, 0));
    bn3_ = norm("bn3", out, *this);
    if (stride != 1 || in != out) {
      auto down = register_module("downsample", std::make_shared<torch::nn::Module>());
      down_conv_ = down->register_module("0", std::make_shared<ResNetConv>(in, out, 1, stride, 0));
      down_bn_ = norm("1", out, *down);
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = at::relu(bn1_->forward(conv1_->forward(x)));
    y = at::relu(bn2_->forward(conv2_->forward(y)));
    y = bn3_->forward(conv3_->forward(y));
    at::Tensor identity = down_conv_ ? down_bn_->forward(down_conv_->forward(x)) : x;
    return at::relu(y + identity);
  }

 private:
  std::shared_ptr<ResNetConv> conv1_, conv2_, conv3_, down_conv_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, bn3_, down_bn_;
};

ResNet::ResNet(const ResNetConfig& config) : config_(config) {
  validate(config);
  conv1_ = register_module("conv1", std::make_shared<ResNetConv>(3, config.stem_width, 7, 2, 3));
  bn1_ =
      register_module("bn1", std::make_shared<BatchNorm2d>(config.stem_width, config.batch_norm_eps,
                                                           config.batch_norm_momentum));
  norms_.push_back(bn1_);
  int64_t in = config.stem_width;
  for (size_t k = 0; k < 4; ++k) {
    auto stage =
        register_module("layer" + std::to_string(k + 1), std::make_shared<torch::nn::Module>());
    const int64_t out = config.planes[k] * config.expansion;
    for (int64_t i = 0; i < config.layers[k]; ++i) {
      const int64_t stride = (i == 0 && k > 0) ? 2 : 1;
      blocks_.push_back(stage->register_module(
          std::to_string(i),
          std::make_shared<Bottleneck>(in, config.planes[k], out, stride, config, norms_)));
      in = out;
    }
  }
}

at::Tensor ResNet::features(const at::Tensor& pixels) {
  MMAUX_CHECK(pixels.defined() && pixels.dim() == 4 && pixels.size(1) == 3 && pixels.size(2) > 0 &&
                  pixels.size(3) > 0,
              "resnet: pixels must be float [b, 3, H, W], got {}",
              pixels.defined() ? shape_string(pixels.sizes()) : std::string("undefined"));
  at::Tensor x = at::relu(bn1_->forward(conv1_->forward(pixels)));
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  for (auto& block : blocks_) x = block->forward(x);
  return x;
}

at::Tensor ResNet::pool(const at::Tensor& features, int64_t n) {
  const auto [rows, cols] = pooling_grid(n);
  return at::adaptive_avg_pool2d(features, {rows, cols}).flatten(2).transpose(1, 2);
}

void ResNet::freeze_batch_norm(bool frozen) {
  for (auto& bn : norms_) bn->set_frozen(frozen);
}

LoadReport load_resnet_weights(ResNet& resnet, const std::string& dir, bool strict) {
  LoadRules rules;
  rules.strict = strict;
  rules.ignore = kResNetIgnore;
  return load_state_dict(resnet, read_hf_weights(dir), rules, hf_weights_file(dir));
}

std::shared_ptr<ResNet> load_resnet(const std::string& dir, bool strict) {
  const std::string config = (std::filesystem::path(dir) / "config.json").string();
  MMAUX_CHECK_CONFIG(std::filesystem::exists(config),
                     "ResNet directory '{}' has no config.json (give layers/planes/stem_width, "
                     "or timm's \"architecture\": \"resnet152\")",
                     dir);
  auto resnet = std::make_shared<ResNet>(parse_resnet_config(read_whole_file(config), config));
  load_resnet_weights(*resnet, dir, strict);
  return resnet;
}

}  // namespace mmaux::model
