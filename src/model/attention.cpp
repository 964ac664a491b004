// Self-attention on a packed [b, L, 3D] projection, fused for the CPU.
//
// The generic path (split heads → matmul → softmax → dropout → matmul → merge heads) makes four
// head-layout copies forward and as many backward, and libtorch 1.13 runs its batched matmul as
// one BLAS call per (batch, head) with two threads each on 64×64 matrices, plus a select() per
// matrix. Here every (batch, head) pair is one task of a parallel loop that calls single-threaded
// GEMMs directly on the strided head slices of the packed projection: no copies, no per-matrix
// dispatch, and the dropout mask of the attention probabilities is regenerated in the backward
// pass from its counter-based seed instead of being stored. Softmax and its backward stay
// libtorch's vectorised kernels, one call each over all pairs.
//
// BLAS is the one libtorch itself loaded (cblas_sgemm / cblas_dgemm looked up in the process);
// without it, or for other dtypes, the generic path runs. On CUDA with libtorch >= 2.1, libtorch's
// scaled_dot_product_attention (flash or memory-efficient kernels) reads the packed projection
// through strided views instead.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/autograd.h>
#include <torch/version.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "mmaux/core/error.h"
#include "mmaux/model/layers.h"
#include "random.h"

namespace mmaux::model {

namespace {

// CBLAS enumerations (cblas.h): row-major order, no transpose, transpose.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                         float, float*, int);
using DgemmFn = void (*)(int, int, int, int, int, int, double, const double*, int, const double*,
                         int, double, double*, int);

struct Cblas {
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
};

const Cblas& cblas() {
  static const Cblas found = [] {
    Cblas c;
    c.sgemm = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
    c.dgemm = reinterpret_cast<DgemmFn>(dlsym(RTLD_DEFAULT, "cblas_dgemm"));
    return c;
  }();
  return found;
}

/// Row-major C[m×n] = op(A) op(B) + beta C with op = transpose when the flag is set.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas().sgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, int(m), int(n), int(k),
                1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas().dgemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, int(m), int(n), int(k),
                1.0, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

/// Geometry of one call: b batch rows, L tokens, D = heads × dh features.
struct Shape {
  int64_t b, L, D, heads, dh;
  int64_t pairs() const { return b * heads; }
  int64_t tile() const { return L * L; }
  /// Offset of the query slice of pair t in the packed [b, L, 3D] projection.
  int64_t qkv_offset(int64_t t) const { return (t / heads) * L * 3 * D + (t % heads) * dh; }
  /// Offset of pair t's slice in a [b, L, D] tensor.
  int64_t out_offset(int64_t t) const { return (t / heads) * L * D + (t % heads) * dh; }
};

Shape shape_of(const at::Tensor& qkv, int64_t heads) {
  Shape s;
  s.b = qkv.size(0);
  s.L = qkv.size(1);
  s.D = qkv.size(2) / 3;
  s.heads = heads;
  s.dh = s.D / heads;
  return s;
}

/// Dropout of the attention probabilities: the element (pair t, row i, column j) is kept when
/// detail::keep(seed, t·L² + i·L + j) holds, where t = batch row · heads + head and the batch
/// row is its global row in a DropoutRows scope (`rows`, as detail::keyed_rows returns them).
/// Writes `in` ⊙ mask / (1 − p) into `out` (which may be `in`).
template <typename T>
void drop_tile(const T* in, T* out, int64_t t, const Shape& s, const std::vector<int64_t>& rows,
               uint64_t seed, uint32_t threshold, T scale) {
  const uint64_t base = detail::row_base(rows, t / s.heads, s.heads * s.tile()) +
                        static_cast<uint64_t>((t % s.heads) * s.tile());
  detail::dropout_scale(out, in, s.tile(), seed, base, threshold, scale);
}

class PackedAttention : public torch::autograd::Function<PackedAttention> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkv,
                            const at::Tensor& key_bias, int64_t heads, double p) {
    const Shape s = shape_of(qkv, heads);
    const uint64_t seed = p > 0 ? detail::draw_seed() : 0;
    const std::vector<int64_t> rows = p > 0 ? detail::keyed_rows(qkv) : std::vector<int64_t>{};
    at::Tensor scores = at::empty({s.b, s.heads, s.L, s.L}, qkv.options());
    at::Tensor out = at::empty({s.b, s.L, s.D}, qkv.options());
    at::Tensor probs;
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "packed_attention_forward", [&] {
      const scalar_t* x = qkv.data_ptr<scalar_t>();
      const scalar_t* bias = key_bias.numel() > 0 ? key_bias.data_ptr<scalar_t>() : nullptr;
      scalar_t* sc = scores.data_ptr<scalar_t>();
      at::parallel_for(0, s.pairs(), 1, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          const scalar_t* q = x + s.qkv_offset(t);
          scalar_t* tile = sc + t * s.tile();
          gemm(false, true, s.L, s.L, s.dh, q, 3 * s.D, q + s.D, 3 * s.D, 0, tile, s.L);
          if (bias) {
            const scalar_t* row_bias = bias + (t / s.heads) * s.L;
            for (int64_t i = 0; i < s.L; ++i) {
              for (int64_t j = 0; j < s.L; ++j) tile[i * s.L + j] += row_bias[j];
            }
          }
        }
      });
      probs = at::softmax(scores, -1);
      scores.reset();
      const scalar_t* pr = probs.data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      const uint32_t threshold = detail::keep_threshold(p);
      const scalar_t scale = static_cast<scalar_t>(p > 0 ? 1.0 / (1.0 - p) : 1.0);
      at::parallel_for(0, s.pairs(), 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> dropped(p > 0 ? s.tile() : 0);
        for (int64_t t = begin; t < end; ++t) {
          const scalar_t* weights = pr + t * s.tile();
          if (p > 0) {
            drop_tile(weights, dropped.data(), t, s, rows, seed, threshold, scale);
            weights = dropped.data();
          }
          const scalar_t* v = x + s.qkv_offset(t) + 2 * s.D;
          gemm(false, false, s.L, s.dh, s.L, weights, s.L, v, 3 * s.D, 0, o + s.out_offset(t), s.D);
        }
      });
    });
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["p"] = p;
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["rows"] = rows;  // the backward pass runs outside the DropoutRows scope
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& qkv = saved[0];
    const at::Tensor& probs = saved[1];
    const int64_t heads = ctx->saved_data["heads"].toInt();
    const double p = ctx->saved_data["p"].toDouble();
    const uint64_t seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    const std::vector<int64_t> rows = ctx->saved_data["rows"].toIntVector();
    const Shape s = shape_of(qkv, heads);
    at::Tensor grad_out = grads[0].contiguous();
    at::Tensor grad_qkv = at::empty_like(qkv, at::MemoryFormat::Contiguous);
    at::Tensor grad_probs = at::empty_like(probs);
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "packed_attention_backward", [&] {
      const scalar_t* x = qkv.data_ptr<scalar_t>();
      const scalar_t* pr = probs.data_ptr<scalar_t>();
      const scalar_t* go = grad_out.data_ptr<scalar_t>();
      scalar_t* gx = grad_qkv.data_ptr<scalar_t>();
      scalar_t* gp = grad_probs.data_ptr<scalar_t>();
      const uint32_t threshold = detail::keep_threshold(p);
      const scalar_t scale = static_cast<scalar_t>(p > 0 ? 1.0 / (1.0 - p) : 1.0);
      // dV = (P ⊙ M)ᵀ dO and dP = (dO Vᵀ) ⊙ M, M the scaled dropout mask.
      at::parallel_for(0, s.pairs(), 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> dropped(p > 0 ? s.tile() : 0);
        for (int64_t t = begin; t < end; ++t) {
          const scalar_t* weights = pr + t * s.tile();
          if (p > 0) {
            drop_tile(weights, dropped.data(), t, s, rows, seed, threshold, scale);
            weights = dropped.data();
          }
          const scalar_t* dout = go + s.out_offset(t);
          const scalar_t* v = x + s.qkv_offset(t) + 2 * s.D;
          gemm(true, false, s.L, s.dh, s.L, weights, s.L, dout, s.D, 0,
               gx + s.qkv_offset(t) + 2 * s.D, 3 * s.D);
          scalar_t* dp = gp + t * s.tile();
          gemm(false, true, s.L, s.L, s.dh, dout, s.D, v, 3 * s.D, 0, dp, s.L);
          if (p > 0) drop_tile(dp, dp, t, s, rows, seed, threshold, scale);
        }
      });
      at::Tensor grad_scores =
          at::_softmax_backward_data(grad_probs, probs, -1, probs.scalar_type());
      grad_probs.reset();
      const scalar_t* gs = grad_scores.data_ptr<scalar_t>();
      // dQ = dS K and dK = dSᵀ Q.
      at::parallel_for(0, s.pairs(), 1, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          const scalar_t* ds = gs + t * s.tile();
          const scalar_t* q = x + s.qkv_offset(t);
          scalar_t* gq = gx + s.qkv_offset(t);
          gemm(false, false, s.L, s.dh, s.L, ds, s.L, q + s.D, 3 * s.D, 0, gq, 3 * s.D);
          gemm(true, false, s.L, s.dh, s.L, ds, s.L, q, 3 * s.D, 0, gq + s.D, 3 * s.D);
        }
      });
    });
    return {grad_qkv, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

bool fused_path_available(const at::Tensor& qkv) {
  if (!qkv.is_cpu() || qkv.dim() != 3) return false;
  if (qkv.scalar_type() == at::kFloat) return cblas().sgemm != nullptr;
  if (qkv.scalar_type() == at::kDouble) return cblas().dgemm != nullptr;
  return false;
}

std::atomic<bool> g_fused_attention{true};

// scaled_dot_product_attention with an explicit scale (the query is already scaled) exists from
// libtorch 2.1 on.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define MMAUX_HAS_SDPA 1
/// The packed projection [b, L, 3D] as strided q, k, v views [b, heads, L, dh] (no copies).
at::Tensor sdpa_attention(const at::Tensor& qkv, const at::Tensor& bias, int64_t heads, double p) {
  const int64_t b = qkv.size(0), L = qkv.size(1), D = qkv.size(2) / 3;
  at::Tensor parts = qkv.view({b, L, 3, heads, D / heads}).permute({2, 0, 3, 1, 4});
  at::Tensor mask = bias.defined() ? bias.to(qkv.scalar_type()) : at::Tensor();
  at::Tensor ctx = at::scaled_dot_product_attention(parts[0], parts[1], parts[2], mask, p,
                                                    /*is_causal=*/false, /*scale=*/1.0);
  return ctx.transpose(1, 2).reshape({b, L, D});
}
#else
#define MMAUX_HAS_SDPA 0
#endif

}  // namespace

void set_fused_attention(bool enabled) { g_fused_attention = enabled; }
bool fused_attention_enabled() { return g_fused_attention; }

bool fused_attention_available() { return cblas().sgemm != nullptr && cblas().dgemm != nullptr; }

at::Tensor packed_self_attention(const at::Tensor& qkv, const at::Tensor& bias, int64_t heads,
                                 double dropout, bool training, bool fused) {
  MMAUX_CHECK(qkv.dim() == 3 && qkv.size(2) % (3 * heads) == 0,
              "packed attention: qkv must be [b, L, 3·D] with D divisible by {} heads", heads);
  const double p = training ? dropout : 0.0;
#if MMAUX_HAS_SDPA
  if (fused && qkv.is_cuda()) return sdpa_attention(qkv, bias, heads, p);
#endif
  if (fused && fused_path_available(qkv)) {
    MMAUX_CHECK(p < 1, "dropout probability must be in [0, 1), got {}", p);
    // An empty tensor for "no bias": libtorch 1.13's Function::apply rejects undefined inputs.
    at::Tensor key_bias = at::empty({0}, qkv.options());
    if (bias.defined()) {
      key_bias = bias.reshape({qkv.size(0), qkv.size(1)}).to(qkv.scalar_type()).contiguous();
    }
    return PackedAttention::apply(qkv.contiguous(), key_bias, heads, p);
  }
  std::vector<at::Tensor> parts = qkv.chunk(3, -1);
  return multi_head_attention(parts[0], parts[1], parts[2], bias, heads, dropout, training, true);
}

}  // namespace mmaux::model
