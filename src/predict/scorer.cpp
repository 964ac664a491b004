#include "predict/scorer.h"

#include <algorithm>
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/data/preprocess.h"

namespace fs = std::filesystem;

namespace mmaux::predict {
namespace {

// Preprocessing's rule: an image path must stay inside the directory it is relative to.
bool escapes(const fs::path& root, const std::string& rel) {
  if (rel.empty()) return true;
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(root, ec);
  fs::path full = fs::weakly_canonical(base / rel, ec);
  if (ec) return true;
  auto r = full.lexically_relative(base);
  return r.empty() || *r.begin() == "..";
}

}  // namespace

Scorer::Scorer(const std::string& checkpoint, const ModelOptions& model,
               const data::ImageLimits& limits, std::string image_root)
    : spec_(data::read_input_spec(checkpoint)),
      tokenizer_(data::load_spec_tokenizer(checkpoint, spec_)),
      limits_(limits),
      image_root_(std::move(image_root)),
      lut_(data::pixel_table(spec_.preset)) {
  MMAUX_CHECK_CONFIG(model.dir == checkpoint, "predict: model.dir '{}' must be the checkpoint '{}'",
                     model.dir, checkpoint);
  model_ = model::make_model(model, static_cast<int>(spec_.class_names.size()));
  model_->eval();
  // The text a post has when its text is removed: the frame tokens alone.
  empty_text_ = tokenizer_->encode("", int(spec_.max_length));
}

PreparedPost Scorer::prepare(InputPost post) const {
  PreparedPost p;
  p.input = std::move(post);
  const InputPost& in = p.input;
  if (!in.error.empty()) {
    p.reason = in.error;
    return p;
  }
  if (in.post_id.empty()) {
    p.reason = fmt::format("{}: empty post id", data::skip_reason::kMalformedRow);
    return p;
  }
  data::PreparedText text = data::prepare_text(in.text, *tokenizer_, int(spec_.max_length));
  if (!text.ok) {
    p.reason = fmt::format("{}: {}", text.reason, text.detail);
    return p;
  }
  p.ids = std::move(text.encoding.ids);
  p.length = text.encoding.length;
  if (escapes(image_root_, in.image)) {
    p.reason = fmt::format("{}: image path '{}' is outside '{}' (set --image-root)",
                           data::skip_reason::kPathEscapes, in.image, image_root_);
    return p;
  }
  try {
    data::Image img =
        data::load_image((fs::path(image_root_) / in.image).string(), spec_.preset, limits_);
    p.pixels = std::move(img.pixels);
    p.height = img.height;
    p.width = img.width;
  } catch (const data::ImageError& e) {
    p.reason = fmt::format("{}: {}", e.reason(), e.what());
  } catch (const Error& e) {
    p.reason = fmt::format("{}: {}", data::skip_reason::kUndecodableImage, e.what());
  }
  return p;
}

// The loader's layout: ids and mask [b, L]; pixels normalised, zero-padded to the batch's largest
// image (fixed presets: the preset's size), with the pixel mask.
model::ModelInput Scorer::inputs(const std::vector<const PreparedPost*>& posts) const {
  const int64_t b = int64_t(posts.size()), L = spec_.max_length;
  int H = spec_.preset.storage_height(), W = spec_.preset.storage_width();
  if (spec_.preset.variable_size()) {
    H = W = 1;
    for (const auto* p : posts) H = std::max(H, p->height), W = std::max(W, p->width);
  }
  model::ModelInput in;
  in.input_ids = at::empty({b, L}, at::kLong);
  in.attention_mask = at::zeros({b, L}, at::kLong);
  in.pixels = at::zeros({b, 3, H, W}, at::kFloat);
  in.pixel_mask = at::zeros({b, H, W}, at::kLong);
  auto* ids = in.input_ids.data_ptr<int64_t>();
  auto* mask = in.attention_mask.data_ptr<int64_t>();
  auto* px = in.pixels.data_ptr<float>();
  auto* pm = in.pixel_mask.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const PreparedPost& p = *posts[size_t(i)];
    for (int64_t t = 0; t < L; ++t) ids[i * L + t] = p.ids[size_t(t)];
    for (int64_t t = 0; t < std::min<int64_t>(p.length, L); ++t) mask[i * L + t] = 1;
    const size_t plane = size_t(p.height) * p.width;
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < p.height && y < H; ++y) {
        const uint8_t* src = &p.pixels[c * plane + size_t(y) * p.width];
        float* dst = px + ((i * 3 + c) * H + y) * W;
        for (int x = 0; x < p.width && x < W; ++x) dst[x] = lut_[size_t(c)][src[x]];
      }
    }
    for (int y = 0; y < std::min(p.height, H); ++y)
      std::fill(pm + (i * H + y) * W, pm + (i * H + y) * W + std::min(p.width, W), int64_t(1));
  }
  return in;
}

// As `mmaux eval`: softmax of the class logits in double precision.
at::Tensor Scorer::class_probs(const model::ModelInput& input) {
  model::Encoded enc = model_->encode(input);
  return at::softmax(model_->classify(enc.fused).to(at::kDouble), 1);
}

std::vector<Scores> Scorer::score(const std::vector<const PreparedPost*>& posts, bool explain) {
  std::vector<Scores> out(posts.size());
  if (posts.empty()) return out;
  at::NoGradGuard no_grad;
  model::ModelInput input = inputs(posts);
  model::Encoded enc = model_->encode(input);
  at::Tensor probs = at::softmax(model_->classify(enc.fused).to(at::kDouble), 1).contiguous();
  at::Tensor itm =
      at::softmax(model_->itm_logits(input, enc.image_cache).to(at::kDouble), 1).contiguous();
  at::Tensor no_image, no_text;
  if (explain) {
    // A neutral image: every normalised pixel 0 (the preset's mean grey), same size and mask.
    model::ModelInput grey = input;
    grey.pixels = at::zeros_like(input.pixels);
    no_image = class_probs(grey).contiguous();
    model::ModelInput blank = input;
    blank.input_ids = at::empty_like(input.input_ids);
    blank.attention_mask = at::zeros_like(input.attention_mask);
    const int64_t L = spec_.max_length;
    auto* ids = blank.input_ids.data_ptr<int64_t>();
    auto* mask = blank.attention_mask.data_ptr<int64_t>();
    for (int64_t i = 0; i < int64_t(posts.size()); ++i) {
      for (int64_t t = 0; t < L; ++t) {
        ids[i * L + t] = empty_text_.ids[size_t(t)];
        mask[i * L + t] = t < empty_text_.length ? 1 : 0;
      }
    }
    no_text = class_probs(blank).contiguous();
  }
  const int64_t c = probs.size(1);
  const double* pr = probs.data_ptr<double>();
  for (size_t i = 0; i < posts.size(); ++i) {
    Scores& s = out[i];
    s.probs.assign(pr + i * c, pr + (i + 1) * c);
    s.predicted = int64_t(std::max_element(s.probs.begin(), s.probs.end()) - s.probs.begin());
    s.itm_match = itm[int64_t(i)][1].item<double>();
    if (explain) {
      s.p_no_image = no_image[int64_t(i)][s.predicted].item<double>();
      s.p_no_text = no_text[int64_t(i)][s.predicted].item<double>();
    }
  }
  return out;
}

}  // namespace mmaux::predict
