#pragma once
/// Dropout masks keyed by the row of the global batch.
///
/// On the CPU an element of a dropout mask is a hash of (seed, counter) (model::apply_dropout);
/// without a scope the counter is the element's index in the tensor, so the row a sample
/// occupies in a tensor decides its mask. Inside a DropoutRows scope, the elements of row i of
/// any tensor that dropout sees (dim 0 = the scope's rows) count from rows[i] · (elements per
/// row) instead: a sample's mask depends on its row of the global batch, not on which rank or
/// micro-batch holds it. With the same seed, W ranks × k micro-batches then draw exactly the
/// masks that one process draws on the whole batch (train::joint_loss and
/// train::contrastive_accumulation_step open the scopes).
///
/// rows = 0, 1, …, b − 1 gives the masks of no scope. Tensors of other devices use libtorch's
/// dropout (the device's generator) and ignore the scope. Thread-local (every thread rank has
/// its own); scopes nest, the innermost applies. A tensor whose dim 0 differs from the scope's
/// row count inside a scope is a bug of the model (dropout on a tensor that is not batch-first)
/// and throws InternalError.

#include <cstdint>
#include <vector>

namespace mmaux::model {

class DropoutRows {
 public:
  /// `rows`: the global row of each batch row (>= 0).
  explicit DropoutRows(std::vector<int64_t> rows);
  ~DropoutRows();
  DropoutRows(const DropoutRows&) = delete;
  DropoutRows& operator=(const DropoutRows&) = delete;

  /// The rows of the innermost scope on this thread; nullptr outside every scope.
  static const std::vector<int64_t>* current();

  /// first, first + 1, …, first + count − 1.
  static std::vector<int64_t> range(int64_t first, int64_t count);

 private:
  std::vector<int64_t> rows_;
  const DropoutRows* outer_;
};

}  // namespace mmaux::model
