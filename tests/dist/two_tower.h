#pragma once
// A small two-tower model on feature vectors (float64) for the distributed equivalence tests: a
// text tower and an image tower, a fusion layer, a classifier, an ITM head, two bias-free ITC
// projections and a learned logit scale: every path of CE + ITC + ITM, without data loading.

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <utility>
#include <vector>

#include "mmaux/dist/grad_sync.h"

namespace mmaux::testing {

struct TwoTowerOut {
  at::Tensor fused, itc_text, itc_image;
};

class TwoTower : public torch::nn::Module {
 public:
  TwoTower(int64_t text_dim, int64_t image_dim, int64_t hidden, int64_t proj, int64_t classes)
      : text_(register_module("text", torch::nn::Linear(text_dim, hidden))),
        image_(register_module("image", torch::nn::Linear(image_dim, hidden))),
        fuse_(register_module("fuse", torch::nn::Linear(2 * hidden, hidden))),
        cls_(register_module("cls", torch::nn::Linear(hidden, classes))),
        itm_(register_module("itm", torch::nn::Linear(hidden, 2))),
        proj_t_(register_module(
            "proj_t", torch::nn::Linear(torch::nn::LinearOptions(hidden, proj).bias(false)))),
        proj_v_(register_module(
            "proj_v", torch::nn::Linear(torch::nn::LinearOptions(hidden, proj).bias(false)))) {
    logit_scale_ = register_parameter("logit_scale", at::full({}, 2.659260036932778));
  }

  TwoTowerOut encode(const at::Tensor& xt, const at::Tensor& xi) {
    at::Tensor ht = at::tanh(text_->forward(xt));
    at::Tensor hi = at::tanh(image_->forward(xi));
    at::Tensor fused = at::relu(fuse_->forward(at::cat({ht, hi}, 1)));
    return {fused, proj_t_->forward(ht), proj_v_->forward(hi)};
  }
  at::Tensor classify(const at::Tensor& fused) { return cls_->forward(fused); }
  at::Tensor itm_logits(const at::Tensor& xt, const at::Tensor& xi) {
    return itm_->forward(encode(xt, xi).fused);
  }
  const at::Tensor& logit_scale() const { return logit_scale_; }

  dist::NamedTensors params() {
    dist::NamedTensors out;
    for (const auto& p : named_parameters()) out.emplace_back(p.key(), p.value());
    return out;
  }
  void clear_grads() {
    for (auto& p : parameters()) p.mutable_grad() = at::Tensor();
  }
  void sgd_step(double lr) {
    at::NoGradGuard no_grad;
    for (auto& p : parameters()) {
      if (p.grad().defined()) p.sub_(p.grad() * lr);
    }
  }

 private:
  torch::nn::Linear text_, image_, fuse_, cls_, itm_, proj_t_, proj_v_;
  at::Tensor logit_scale_;
};

/// Builds the model with a fixed initialisation for `seed`, in float64.
inline std::shared_ptr<TwoTower> make_two_tower(uint64_t seed) {
  at::manual_seed(seed);
  auto m = std::make_shared<TwoTower>(6, 5, 8, 4, 3);
  m->to(at::kDouble);
  return m;
}

}  // namespace mmaux::testing
