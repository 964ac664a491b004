#pragma once
// A small two-tower multimodal model in float64 for the distributed equivalence tests: a
// bag-of-words text tower, an image tower over the raw pixels, a fusion layer, a classifier, an
// ITM head, two bias-free ITC projections and a learned logit scale: every path of CE + ITC + ITM
// through the trainer's own joint_loss, without data loading and in milliseconds.
//
// Inputs: token ids in [0, kVocab) with an attention mask (masked tokens count for nothing) and
// float64 pixels [b, 3, 2, 2] (the model's dtype; the pixel mask is all ones).

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/dist/grad_sync.h"
#include "mmaux/model/multimodal.h"

namespace mmaux::testing {

constexpr int64_t kVocab = 10;
constexpr int64_t kImageSide = 2;

class TwoTower : public model::MultimodalModel {
 public:
  TwoTower(int64_t hidden, int64_t proj, int64_t classes)
      : text_(register_module("text", torch::nn::Linear(kVocab, hidden))),
        image_(register_module("image", torch::nn::Linear(3 * kImageSide * kImageSide, hidden))),
        fuse_(register_module("fuse", torch::nn::Linear(2 * hidden, hidden))),
        cls_(register_module("cls", torch::nn::Linear(hidden, classes))),
        itm_(register_module("itm", torch::nn::Linear(hidden, 2))),
        proj_t_(register_module(
            "proj_t", torch::nn::Linear(torch::nn::LinearOptions(hidden, proj).bias(false)))),
        proj_v_(register_module(
            "proj_v", torch::nn::Linear(torch::nn::LinearOptions(hidden, proj).bias(false)))),
        classes_(classes) {
    logit_scale_ = register_parameter("logit_scale", at::full({}, 2.659260036932778));
  }

  model::Encoded encode(const model::ModelInput& in) override {
    at::Tensor words = at::one_hot(in.input_ids, kVocab) * in.attention_mask.unsqueeze(2);
    at::Tensor ht = at::tanh(text_->forward(words.sum(1).to(at::kDouble)));
    at::Tensor hi = at::tanh(image_->forward(in.pixels.flatten(1)));
    at::Tensor fused = at::relu(fuse_->forward(at::cat({ht, hi}, 1)));
    return {fused, proj_t_->forward(ht), proj_v_->forward(hi), at::Tensor()};
  }
  at::Tensor classify(const at::Tensor& fused) override { return cls_->forward(fused); }
  at::Tensor itm_logits(const model::ModelInput& pairs, const at::Tensor&) override {
    return itm_->forward(encode(pairs).fused);
  }
  int num_classes() const override { return static_cast<int>(classes_); }
  ModelKind kind() const override { return ModelKind::kBerVitConcat; }

  const at::Tensor& logit_scale() const { return logit_scale_; }
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
  int64_t classes_;
  at::Tensor logit_scale_;
};

/// Builds the model with a fixed initialisation for `seed`, in float64.
inline std::shared_ptr<TwoTower> make_two_tower(uint64_t seed) {
  at::manual_seed(seed);
  auto m = std::make_shared<TwoTower>(8, 4, 3);
  m->to(at::kDouble);
  return m;
}

}  // namespace mmaux::testing
