#include "mmaux/train/retrieval.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mmaux/core/error.h"
#include "mmaux/dist/all_gather.h"

namespace mmaux::train {
namespace {

// At most this many similarities exist at once (64 MiB of float32).
constexpr int64_t kBlockScores = int64_t{1} << 24;

// What every rank holds, exchanged before any check so that a bad input fails on every rank alike
// instead of leaving the others in a collective.
struct Layout {
  std::vector<int64_t> rows;  // per rank
  int64_t dim = 0;            // 0 when every rank is empty
  at::ScalarType dtype = at::kFloat;
};

int64_t width(const at::Tensor& x) { return x.dim() == 2 ? x.size(1) : -1; }

bool usable(const at::Tensor& x) {
  return (x.dim() == 2 || (x.dim() == 1 && x.size(0) == 0)) && x.is_floating_point();
}

Layout exchange_layout(const at::Tensor& text, const at::Tensor& image, dist::Communicator& comm) {
  const auto all_finite = [](const at::Tensor& x) {
    return x.numel() == 0 || at::isfinite(x).all().item<bool>();
  };
  const bool ok = usable(text) && usable(image);
  at::Tensor info = at::tensor({ok ? text.size(0) : -1, ok ? image.size(0) : -1, width(text),
                                width(image), int64_t{text.scalar_type() == at::kDouble},
                                int64_t{ok && all_finite(text) && all_finite(image)}},
                               at::kLong);
  const int w = comm.world_size();
  at::Tensor all = comm.all_gather(info.to(comm.device())).cpu().view({w, 6});
  auto a = all.accessor<int64_t, 2>();
  Layout out;
  for (int q = 0; q < w; ++q) {
    MMAUX_CHECK(a[q][0] >= 0 && a[q][1] >= 0,
                "retrieval_recall: rank {} passed ITC vectors that are not floating [rows, dim] "
                "matrices",
                q);
    MMAUX_CHECK(a[q][0] == a[q][1] && (a[q][0] == 0 || a[q][2] == a[q][3]),
                "retrieval_recall: rank {} holds {} text rows of dim {} but {} image rows of dim "
                "{}; text and image vectors must pair row by row",
                q, a[q][0], a[q][2], a[q][1], a[q][3]);
    MMAUX_CHECK(a[q][5] == 1, "retrieval_recall: rank {} holds a non-finite ITC vector", q);
    out.rows.push_back(a[q][0]);
    if (a[q][0] == 0) continue;
    MMAUX_CHECK(out.dim == 0 || out.dim == a[q][2],
                "retrieval_recall: ranks hold ITC vectors of different dims ({} and {} on rank {})",
                out.dim, a[q][2], q);
    out.dim = a[q][2];
    if (a[q][4] == 1) out.dtype = at::kDouble;
  }
  return out;
}

// This rank's rows as unit vectors of the common dtype, then every rank's in rank order.
at::Tensor gather_unit(const at::Tensor& x, const Layout& layout, dist::Communicator& comm) {
  at::Tensor local = x.detach().to(comm.device(), layout.dtype).reshape({-1, layout.dim});
  // As torch.nn.functional.normalize (and loss::itc_loss): x / max(||x||, 1e-12).
  local = local / local.norm(2, {1}, true).clamp_min(1e-12);
  return dist::all_gather_no_grad(local.contiguous(), comm, layout.rows);
}

// Adds to hits[0..3) the queries [first, first + q) that find their match within the top K of
// kRecallAt. A query's rank: the other candidates scoring at least as high as its match.
void add_hits(const at::Tensor& queries, const at::Tensor& candidates, int64_t first,
              at::Tensor hits) {
  at::Tensor scores = at::matmul(queries, candidates.t());
  at::Tensor own = scores.gather(
      1,
      at::arange(first, first + queries.size(0), scores.options().dtype(at::kLong)).unsqueeze(1));
  at::Tensor rank = scores.ge(own).sum(1) - 1;
  for (size_t k = 0; k < kRecallAt.size(); ++k)
    hits[static_cast<int64_t>(k)] += rank.lt(kRecallAt[k]).sum();
}

// block_rows 0: as many rows as fit kBlockScores, from N alone (never from the world size).
RetrievalRecall recall(const at::Tensor& text, const at::Tensor& image, dist::Communicator& comm,
                       int64_t block_rows) {
  const Layout layout = exchange_layout(text, image, comm);
  RetrievalRecall r;
  for (int64_t rows : layout.rows) r.n += rows;
  if (r.n == 0) return r;
  if (block_rows == 0) block_rows = std::max<int64_t>(1, kBlockScores / r.n);
  at::Tensor texts = gather_unit(text, layout, comm);
  at::Tensor images = gather_unit(image, layout, comm);
  // hits[0..3): image→text, hits[3..6): text→image. Blocks are fixed by global row, and block k
  // goes to rank k mod W, so each score is computed exactly as one process would.
  at::Tensor hits = at::zeros({6}, at::TensorOptions(at::kLong).device(comm.device()));
  for (int64_t first = 0, k = 0; first < r.n; first += block_rows, ++k) {
    if (k % comm.world_size() != comm.rank()) continue;
    const int64_t last = std::min(r.n, first + block_rows);
    add_hits(images.slice(0, first, last), texts, first, hits.slice(0, 0, 3));
    add_hits(texts.slice(0, first, last), images, first, hits.slice(0, 3, 6));
  }
  comm.all_reduce(hits, dist::ReduceOp::kSum);
  at::Tensor h = hits.cpu();
  for (size_t k = 0; k < kRecallAt.size(); ++k) {
    const auto i = static_cast<int64_t>(k);
    r.image_to_text[k] = static_cast<double>(h[i].item<int64_t>()) / static_cast<double>(r.n);
    r.text_to_image[k] = static_cast<double>(h[i + 3].item<int64_t>()) / static_cast<double>(r.n);
  }
  return r;
}

}  // namespace

RetrievalRecall retrieval_recall(const at::Tensor& text, const at::Tensor& image,
                                 dist::Communicator& comm) {
  return recall(text, image, comm, 0);
}

RetrievalRecall retrieval_recall_blocked(const at::Tensor& text, const at::Tensor& image,
                                         dist::Communicator& comm, int64_t block_rows) {
  MMAUX_CHECK(block_rows >= 1, "retrieval_recall: block_rows must be >= 1, got {}", block_rows);
  return recall(text, image, comm, block_rows);
}

nlohmann::json retrieval_json(const RetrievalRecall& r) {
  const auto at_k = [](const std::array<double, 3>& v) {
    nlohmann::json j = nlohmann::json::object();
    for (size_t k = 0; k < kRecallAt.size(); ++k) j[fmt::format("r{}", kRecallAt[k])] = v[k];
    return j;
  };
  return {{"n", r.n},
          {"image_to_text", at_k(r.image_to_text)},
          {"text_to_image", at_k(r.text_to_image)}};
}

std::string retrieval_summary(const RetrievalRecall& r) {
  const auto three = [](const std::array<double, 3>& v) {
    return fmt::format("{:.3f}/{:.3f}/{:.3f}", v[0], v[1], v[2]);
  };
  std::array<double, 3> chance{};
  for (size_t k = 0; k < kRecallAt.size(); ++k) {
    chance[k] = r.n > 0 ? std::min(1.0, static_cast<double>(kRecallAt[k]) / r.n) : 0.0;
  }
  return fmt::format("R@1/5/10 over {} pairs: image→text {}, text→image {} (chance {})", r.n,
                     three(r.image_to_text), three(r.text_to_image), three(chance));
}

}  // namespace mmaux::train
