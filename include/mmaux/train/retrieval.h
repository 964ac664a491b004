#pragma once
/// Image→text and text→image retrieval recall@K over a whole split, gathered across ranks.
///
/// Rule for ties (deterministic, pessimistic): the rank of a query is the number of *other*
/// candidates whose similarity is at least the similarity of its own match (ties count against
/// the query); the query is a hit at K when that rank is < K. So K >= N is always a hit, and a
/// collapsed model (every vector equal) scores R@K = 0 for K < N instead of a flattering 1.
/// Chance level (random vectors) is about K / N.

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "mmaux/dist/communicator.h"

namespace mmaux {
struct DataOptions;
namespace data {
class Manifest;
}
namespace model {
class MultimodalModel;
}
}  // namespace mmaux

namespace mmaux::train {

/// The K of RetrievalRecall's entries, in order.
inline constexpr std::array<int64_t, 3> kRecallAt = {1, 5, 10};

/// Image→text and text→image recall@K over paired rows (row i's text matches row i's image).
struct RetrievalRecall {
  int64_t n = 0;                          ///< paired rows over all ranks
  std::array<double, 3> image_to_text{};  ///< R@1, R@5, R@10 in [0, 1]
  std::array<double, 3> text_to_image{};
};

/// Recall over the rows of every rank: `text` and `image` are this rank's ITC vectors [b_r, d]
/// (any norm: L2-normalised here; any floating dtype, scored in float32, or float64 when any rank
/// passes float64; any device), gathered in rank order, so W ranks give the same figures as one
/// process on all rows (the N x N similarities are computed in fixed blocks of global rows,
/// whichever rank computes a block). Ties count against the query (see above). A rank may hold 0
/// rows (its tensors may then be [0] or [0, d]). Memory: the similarities are computed in blocks
/// of rows, at most ~16 M scores at once, so a 100k-row split never needs N² floats. Throws Error
/// when the shapes differ between text and image or between ranks, or a vector is not finite
/// (on every rank alike). Collective.
RetrievalRecall retrieval_recall(const at::Tensor& text, const at::Tensor& image,
                                 dist::Communicator& comm);

/// retrieval_recall with an explicit block size (global rows per block, >= 1), for tests of the
/// blocking; the figures do not depend on it except through float rounding of the scores.
/// Collective.
RetrievalRecall retrieval_recall_blocked(const at::Tensor& text, const at::Tensor& image,
                                         dist::Communicator& comm, int64_t block_rows);

/// Recall over a whole split: `model` in eval mode without gradient (its mode restored after)
/// encodes every row of `split` with need_itc = true (the evaluation loader of `data`: each rank
/// its share, on `device`), then retrieval_recall over the ITC vectors of every rank. Needs no
/// labels (unlabeled data sets work) and never calls the classification head. Throws
/// ConfigError when the data set has no such split. Collective.
RetrievalRecall split_retrieval(model::MultimodalModel& model, const data::Manifest& manifest,
                                const DataOptions& data, const std::string& split,
                                c10::Device device, dist::Communicator& comm);

/// {"n":…, "image_to_text":{"r1":…,"r5":…,"r10":…}, "text_to_image":{…}}
nlohmann::json retrieval_json(const RetrievalRecall& r);

/// "R@1/5/10 over N pairs: image→text 0.412/0.803/0.911, text→image … (chance K/N …)" (logs).
std::string retrieval_summary(const RetrievalRecall& r);

}  // namespace mmaux::train
