#include "mmaux/dist/grad_sync.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <mutex>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/log.h"

namespace mmaux::dist {
namespace {

std::string shape_text(const at::Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.sizes(), ", "));
}

uint64_t hash_lines(const std::vector<std::string>& lines) {
  uint64_t h = 0x6D6D617578ULL;
  for (const auto& l : lines) h = hash_bytes(h, l.data(), l.size());
  return h;
}

/// Every rank's fingerprint lines (only called once the hashes disagree).
std::vector<std::vector<std::string>> gather_fingerprints(const std::vector<std::string>& mine,
                                                          Communicator& comm) {
  std::string text;
  for (const auto& l : mine) text += l + '\n';
  at::Tensor codes = at::empty({static_cast<int64_t>(text.size())}, at::kLong);
  for (size_t i = 0; i < text.size(); ++i) {
    codes.data_ptr<int64_t>()[i] = static_cast<unsigned char>(text[i]);
  }
  std::vector<int64_t> counts = gather_counts(codes.numel(), comm);
  at::Tensor all = comm.all_gather_varsize(codes.to(comm.device())).cpu();
  std::vector<std::vector<std::string>> out;
  int64_t pos = 0;
  for (int64_t c : counts) {
    std::vector<std::string> lines;
    std::string line;
    for (int64_t i = pos; i < pos + c; ++i) {
      char ch = static_cast<char>(all.data_ptr<int64_t>()[i]);
      if (ch == '\n') {
        lines.push_back(line);
        line.clear();
      } else {
        line += ch;
      }
    }
    out.push_back(lines);
    pos += c;
  }
  return out;
}

void check_same_architecture(const std::vector<std::string>& mine, Communicator& comm) {
  at::Tensor h = at::full({1}, static_cast<int64_t>(hash_lines(mine)),
                          at::TensorOptions().dtype(at::kLong).device(comm.device()));
  at::Tensor all = comm.all_gather(h).cpu();
  bool same = true;
  for (int64_t r = 1; r < all.numel(); ++r)
    same = same && all[r].item<int64_t>() == all[0].item<int64_t>();
  if (same) return;
  auto lists = gather_fingerprints(mine, comm);
  const auto& ref = lists[0];
  for (size_t r = 1; r < lists.size(); ++r) {
    const auto& other = lists[r];
    for (size_t i = 0; i < std::max(ref.size(), other.size()); ++i) {
      std::string a = i < ref.size() ? ref[i] : "nothing";
      std::string b = i < other.size() ? other[i] : "nothing";
      if (a == b) continue;
      MMAUX_THROW(ConfigError,
                  "ranks hold different models: parameter #{} is '{}' on rank 0 but '{}' on rank "
                  "{} (rank 0 has {} parameters, rank {} has {}); every rank must build the same "
                  "model from the same options",
                  i, a, b, r, ref.size(), r, other.size());
    }
  }
  MMAUX_ASSERT(false, "parameter fingerprints differ in hash but not in text");
}

}  // namespace

bool synchronised_by_rows(const at::Tensor& p) {
  // A word-embedding table gets gradients in a few hundred of its ~30k rows per step, yet a
  // dense all-reduce would send every row.
  return p.dim() == 2 && p.size(0) >= 8192;
}

std::vector<std::string> parameter_fingerprint(const NamedTensors& parameters) {
  std::vector<std::string> lines;
  lines.reserve(parameters.size());
  for (const auto& [name, t] : parameters) {
    lines.push_back(fmt::format("{} {} {} {}", name, c10::toString(t.scalar_type()), shape_text(t),
                                t.requires_grad() ? "grad" : "frozen"));
  }
  return lines;
}

struct GradSync::State {
  struct Slot {
    int bucket = -1;
    int64_t offset = 0;
  };
  struct Bucket {
    std::vector<int> members;
    at::Tensor flat;
    int pending = 0;
    bool started = false;
    std::shared_ptr<Work> work;
  };

  std::shared_ptr<Communicator> comm;
  DistOptions options;
  NamedTensors params;
  NamedTensors buffers;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<char> seen;
  std::vector<int> row_sparse;  ///< embedding tables: synchronised row by row in finish()
  std::map<std::string, std::vector<uint8_t>> row_masks;  ///< of the last finish()
  std::vector<std::pair<int, unsigned>> hooks;            // (parameter, hook handle)
  int next_to_start = 0;
  bool enabled = true;
  std::mutex mu;

  at::Tensor slot_view(int i) {
    const at::Tensor& p = params[i].second;
    return buckets[slots[i].bucket].flat.narrow(0, slots[i].offset, p.numel()).view(p.sizes());
  }

  void build_buckets() {
    const double cap = options.bucket_mb * 1024.0 * 1024.0;
    slots.assign(params.size(), Slot{});
    std::vector<int> current;
    double bytes = 0;
    auto close = [&]() {
      if (current.empty()) return;
      Bucket b;
      b.members = current;
      int64_t n = 0;
      for (int i : current) {
        slots[i] = Slot{static_cast<int>(buckets.size()), n};
        n += params[i].second.numel();
      }
      b.flat = at::zeros({n}, params[current.front()].second.options().requires_grad(false));
      b.pending = static_cast<int>(current.size());
      buckets.push_back(std::move(b));
      current.clear();
      bytes = 0;
    };
    // Reverse registration order: backward produces the last layers' gradients first.
    for (int i = static_cast<int>(params.size()) - 1; i >= 0; --i) {
      const at::Tensor& p = params[i].second;
      if (!p.requires_grad()) continue;
      if (synchronised_by_rows(p)) {
        row_sparse.push_back(i);
        continue;
      }
      if (!current.empty()) {
        const at::Tensor& q = params[current.front()].second;
        if (q.scalar_type() != p.scalar_type() || q.device() != p.device()) close();
      }
      current.push_back(i);
      bytes += static_cast<double>(p.numel() * p.element_size());
      if (bytes >= cap) close();
    }
    close();
  }

  /// mask[r] = 1 when row r of the contiguous CPU matrix g has a non-zero element: one read of
  /// g with an early exit per row, no temporaries.
  static void nonzero_rows(const at::Tensor& g, at::Tensor& mask) {
    const int64_t rows = g.size(0), dim = g.size(1);
    float* out = mask.data_ptr<float>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, g.scalar_type(), "nonzero_rows", [&] {
      const scalar_t* x = g.data_ptr<scalar_t>();
      at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, dim)),
                       [&](int64_t begin, int64_t end) {
                         for (int64_t r = begin; r < end; ++r) {
                           const scalar_t* row = x + r * dim;
                           for (int64_t j = 0; j < dim; ++j) {
                             if (static_cast<float>(row[j]) != 0.0f) {
                               out[r] = 1;
                               break;
                             }
                           }
                         }
                       });
    });
  }

  /// Averages the gradient of a row-sparse parameter: the ranks agree on the union of their
  /// non-zero rows (one all-reduce of a row mask), then all-reduce only those rows. Rows that
  /// are zero on every rank average to zero, so the result equals the dense average.
  void sync_rows(int i) {
    at::Tensor& p = params[i].second;
    at::Tensor g = p.grad();
    at::Tensor mask = at::zeros({p.size(0)}, p.options().dtype(at::kFloat).device(at::kCPU));
    if (g.defined()) {
      if (g.is_cpu() && g.is_contiguous()) {
        nonzero_rows(g, mask);
      } else {
        mask = g.ne(0).any(1).to(at::kFloat).cpu();
      }
    }
    mask = mask.to(comm->device());
    comm->all_reduce(mask, ReduceOp::kMax);
    mask = mask.cpu();
    const float* m = mask.data_ptr<float>();
    std::vector<uint8_t>& kept = row_masks[params[i].first];
    kept.resize(static_cast<size_t>(mask.numel()));
    for (int64_t r = 0; r < mask.numel(); ++r) kept[r] = m[r] != 0 ? 1 : 0;
    at::Tensor rows = mask.nonzero().squeeze(1).to(p.device());
    if (!g.defined()) p.mutable_grad() = g = at::zeros_like(p);
    if (rows.numel() == 0) return;
    at::Tensor packed = g.index_select(0, rows);
    comm->all_reduce(packed, ReduceOp::kAvg);
    g.index_copy_(0, rows, packed);
  }

  void start(int k) {
    Bucket& b = buckets[k];
    b.work = comm->all_reduce_async(b.flat, ReduceOp::kAvg);
    b.started = true;
  }

  void start_ready() {
    while (next_to_start < static_cast<int>(buckets.size()) &&
           buckets[next_to_start].pending == 0) {
      start(next_to_start++);
    }
  }

  void on_grad(int i, const at::Tensor& grad) {
    std::lock_guard<std::mutex> lock(mu);
    if (!enabled) return;
    Bucket& b = buckets[slots[i].bucket];
    MMAUX_CHECK(!b.started,
                "the gradient of parameter '{}' arrived after its bucket was all-reduced: run "
                "one backward per optimizer step with synchronisation on (sum the losses first), "
                "or call set_sync(false) for the earlier backward passes",
                params[i].first);
    at::NoGradGuard no_grad;
    at::Tensor dst = slot_view(i);
    if (seen[i]) {
      dst.add_(grad);  // a second backward pass before the bucket started
      return;
    }
    // The hook sees this pass's gradient before it is accumulated into .grad, which still
    // holds the gradients of earlier micro-batches.
    const at::Tensor& previous = params[i].second.grad();
    if (previous.defined()) {
      at::add_out(dst, previous, grad);
    } else {
      dst.copy_(grad);
    }
    seen[i] = 1;
    if (--b.pending == 0) start_ready();
    // Buckets started earlier advance while backward computes the next gradients.
    for (int k = 0; k < next_to_start; ++k) buckets[k].work->progress();
  }

  void reset_round() {
    std::fill(seen.begin(), seen.end(), 0);
    for (auto& b : buckets) {
      b.pending = static_cast<int>(b.members.size());
      b.started = false;
      b.work.reset();
    }
    next_to_start = 0;
  }
};

GradSync::GradSync(const NamedTensors& parameters, const NamedTensors& buffers,
                   std::shared_ptr<Communicator> comm, const DistOptions& options)
    : state_(std::make_unique<State>()) {
  MMAUX_CHECK_CONFIG(options.bucket_mb > 0, "dist.bucket-mb must be > 0, got {}",
                     options.bucket_mb);
  State& s = *state_;
  // Bucket all-reduces start from autograd hooks, interleaved with whatever collectives the
  // loss runs in backward (the ITC gather's reduce-scatter): a communicator of their own keeps
  // the two orders independent on every rank.
  s.comm = comm->duplicate();
  s.options = options;
  s.params = parameters;
  s.buffers = buffers;
  Communicator& c = *s.comm;
  std::vector<std::string> fingerprint = parameter_fingerprint(parameters);
  for (const auto& l : parameter_fingerprint(buffers)) fingerprint.push_back("buffer " + l);
  check_same_architecture(fingerprint, c);
  if (c.world_size() == 1) return;
  {
    at::NoGradGuard no_grad;
    auto broadcast_all = [&](const NamedTensors& list) {
      for (const auto& [name, t] : list) {
        if (!t.defined()) continue;
        at::Tensor d = t.detach();
        if (d.is_contiguous()) {
          c.broadcast(d, 0);
        } else {
          at::Tensor tmp = d.contiguous();
          c.broadcast(tmp, 0);
          d.copy_(tmp);
        }
      }
    };
    broadcast_all(parameters);
    broadcast_all(buffers);
  }
  s.build_buckets();
  s.seen.assign(s.params.size(), 0);
  State* raw = state_.get();
  for (int i = 0; i < static_cast<int>(s.params.size()); ++i) {
    at::Tensor& p = s.params[i].second;
    if (!p.requires_grad() || synchronised_by_rows(p)) continue;
    unsigned h = p.register_hook([raw, i](const at::Tensor& grad) { raw->on_grad(i, grad); });
    s.hooks.emplace_back(i, h);
  }
  log_info("dist",
           "gradient sync: {} trainable tensors in {} buckets of <= {} MB and {} embedding "
           "table(s) synchronised by rows, over {} ranks",
           s.hooks.size(), s.buckets.size(), options.bucket_mb, s.row_sparse.size(),
           c.world_size());
}

namespace {
NamedTensors named(const torch::OrderedDict<std::string, at::Tensor>& dict) {
  NamedTensors out;
  for (const auto& item : dict) out.emplace_back(item.key(), item.value());
  return out;
}
}  // namespace

GradSync::GradSync(torch::nn::Module& module, std::shared_ptr<Communicator> comm,
                   const DistOptions& options)
    : GradSync(named(module.named_parameters()), named(module.named_buffers()), std::move(comm),
               options) {}

GradSync::~GradSync() {
  for (auto& [i, h] : state_->hooks) state_->params[i].second.remove_hook(h);
}

void GradSync::broadcast_buffers() {
  State& s = *state_;
  if (s.comm->world_size() == 1 || s.buffers.empty()) return;
  at::NoGradGuard no_grad;
  std::map<at::ScalarType, std::vector<at::Tensor>> by_type;
  for (const auto& [name, t] : s.buffers) {
    if (t.defined() && t.numel() > 0) by_type[t.scalar_type()].push_back(t.detach());
  }
  for (auto& [type, list] : by_type) {
    std::vector<at::Tensor> flat;
    flat.reserve(list.size());
    for (const auto& t : list) flat.push_back(t.reshape({-1}));
    at::Tensor packed = at::cat(flat);
    s.comm->broadcast(packed, 0);
    int64_t offset = 0;
    for (auto& t : list) {
      t.copy_(packed.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

void GradSync::set_sync(bool enabled) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->enabled = enabled;
}

void GradSync::finish() {
  State& s = *state_;
  if (s.comm->world_size() == 1) return;
  std::lock_guard<std::mutex> lock(s.mu);
  at::NoGradGuard no_grad;
  const int nb = static_cast<int>(s.buckets.size());
  // Buckets not started during backward: parameters that reported nothing contribute what
  // .grad holds (earlier micro-batches) or zeros, so every rank all-reduces every bucket.
  for (int k = s.next_to_start; k < nb; ++k) {
    for (int i : s.buckets[k].members) {
      if (s.seen[i]) continue;
      const at::Tensor& g = s.params[i].second.grad();
      at::Tensor dst = s.slot_view(i);
      if (g.defined()) {
        dst.copy_(g);
      } else {
        dst.zero_();
      }
    }
    s.start(k);
  }
  s.next_to_start = nb;
  std::vector<int64_t> used(s.params.size(), 0);
  for (size_t i = 0; i < s.params.size(); ++i) {
    used[i] = (s.seen[i] || s.params[i].second.grad().defined()) ? 1 : 0;
  }
  at::Tensor used_t = at::tensor(used, at::kLong).to(s.comm->device());
  s.comm->all_reduce(used_t, ReduceOp::kMax);
  used_t = used_t.cpu();
  // Row-sparse tables while the buckets' all-reduces are in flight (the same order on every
  // rank: buckets were started first).
  for (int i : s.row_sparse) {
    if (used_t.data_ptr<int64_t>()[i] != 0) {
      s.sync_rows(i);
    } else {
      s.row_masks.erase(s.params[i].first);
    }
  }
  for (auto& b : s.buckets) b.work->wait();
  for (auto& b : s.buckets) {
    for (int i : b.members) {
      if (used_t.data_ptr<int64_t>()[i] == 0) continue;  // no rank produced a gradient
      at::Tensor& p = s.params[i].second;
      at::Tensor avg = s.slot_view(i);
      if (p.grad().defined()) {
        p.mutable_grad().copy_(avg);
      } else {
        p.mutable_grad() = avg.clone();
      }
    }
  }
  s.reset_round();
}

uint64_t GradSync::parameter_hash() const {
  uint64_t h = 0x68617368ULL;
  for (const auto& [name, t] : state_->params) {
    at::Tensor c = t.detach().cpu().contiguous();
    h = hash_bytes(h, c.data_ptr(), static_cast<size_t>(c.numel() * c.element_size()));
  }
  return h;
}

void GradSync::check_divergence(int64_t step) {
  const int every = state_->options.divergence_check_every;
  if (every <= 0 || step % every != 0) return;
  Communicator& c = *state_->comm;
  at::Tensor h = at::full({1}, static_cast<int64_t>(parameter_hash()),
                          at::TensorOptions().dtype(at::kLong).device(c.device()));
  at::Tensor all = c.all_gather(h).cpu();
  std::vector<int> differ;
  for (int r = 1; r < all.numel(); ++r) {
    if (all.data_ptr<int64_t>()[r] != all.data_ptr<int64_t>()[0]) differ.push_back(r);
  }
  MMAUX_CHECK_COMM(differ.empty(),
                   "replicas diverged at step {}: the parameters of rank(s) {} differ from rank "
                   "0's (hash {:016x} on rank 0); gradients were not averaged identically or a "
                   "rank applied a different update",
                   step, fmt::join(differ, ", "),
                   static_cast<uint64_t>(all.data_ptr<int64_t>()[0]));
}

const std::map<std::string, std::vector<uint8_t>>& GradSync::row_masks() const {
  return state_->row_masks;
}

int GradSync::num_buckets() const { return static_cast<int>(state_->buckets.size()); }

std::vector<std::string> GradSync::bucket_names(int k) const {
  std::vector<std::string> out;
  for (int i : state_->buckets.at(k).members) out.push_back(state_->params[i].first);
  return out;
}

}  // namespace mmaux::dist
