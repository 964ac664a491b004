#include "mmaux/predict/predict.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/core/worker_pool.h"
#include "predict/output.h"
#include "rank_exchange.h"

namespace fs = std::filesystem;

namespace mmaux::predict {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// What one rank made of its share of a round.
struct Part {
  std::string text;  ///< output lines, in input order
  int64_t scored = 0, failed = 0;
  double decode_s = 0, model_s = 0, wait_s = 0;
};

// Counts and timings travel ahead of the text in one gathered message.
std::string encode(const Part& p) {
  return fmt::format("{} {} {:.9g} {:.9g} {:.9g}\n{}", p.scored, p.failed, p.decode_s, p.model_s,
                     p.wait_s, p.text);
}

Part decode(const std::string& bytes) {
  Part p;
  const size_t nl = bytes.find('\n');
  MMAUX_ASSERT(nl != std::string::npos, "predict: a rank's message has no header");
  std::sscanf(bytes.substr(0, nl).c_str(), "%ld %ld %lf %lf %lf", &p.scored, &p.failed, &p.decode_s,
              &p.model_s, &p.wait_s);
  p.text = bytes.substr(nl + 1);
  return p;
}

class Job {
 public:
  Job(const PredictOptions& o, const ModelOptions& model)
      : o_(o),
        scorer_(o.checkpoint, model, limits(o), image_root(o)),
        decode_threads_(worker_count(o.decode_threads > 0 ? o.decode_threads : o.threads)) {
    format_.classes = scorer_.spec().class_names;
    format_.explain = o.explain;
    format_.threshold = o.explain_threshold;
  }

  // Scores this rank's rows of one round.
  Part score_rows(std::vector<InputPost> rows) {
    Part part;
    std::atomic<int64_t> decode_ns{0};
    std::vector<PreparedPost> pending;
    const size_t batch = size_t(o_.batch_size);
    auto flush = [&] {
      std::vector<const PreparedPost*> ready;
      for (const auto& p : pending)
        if (p.reason.empty()) ready.push_back(&p);
      auto t = Clock::now();
      std::vector<Scores> scores = scorer_.score(ready, o_.explain);
      part.model_s += since(t);
      size_t k = 0;
      for (const auto& p : pending) {
        if (p.reason.empty()) {
          part.text += scored_row(format_, p, scores[k++]);
          ++part.scored;
        } else {
          part.text += failed_row(format_, p);
          ++part.failed;
        }
      }
      pending.clear();
    };
    auto waiting_since = Clock::now();
    parallel_ordered<PreparedPost>(
        rows.size(), decode_threads_, 2 * batch,
        [&](size_t k) {
          auto t = Clock::now();
          PreparedPost p = scorer_.prepare(std::move(rows[k]));
          decode_ns +=
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count();
          return p;
        },
        [&](size_t k, PreparedPost&& p) {
          part.wait_s += since(waiting_since);
          pending.push_back(std::move(p));
          if (pending.size() == batch || k + 1 == rows.size()) flush();
          waiting_since = Clock::now();
        });
    part.decode_s = double(decode_ns.load()) * 1e-9;
    return part;
  }

  const OutputFormat& format() { return format_; }
  void set_output_kind(std::string kind) { format_.kind = std::move(kind); }

 private:
  static data::ImageLimits limits(const PredictOptions& o) {
    data::ImageLimits l;
    l.max_pixels = o.max_image_pixels;
    l.max_bytes = o.max_image_bytes;
    return l;
  }
  static std::string image_root(const PredictOptions& o) {
    if (!o.image_root.empty()) return o.image_root;
    if (o.input == "-") return ".";
    const fs::path parent = fs::path(o.input).parent_path();
    return parent.empty() ? "." : parent.string();
  }

  const PredictOptions& o_;
  Scorer scorer_;
  unsigned decode_threads_;
  OutputFormat format_;
};

std::string output_kind(const PredictOptions& o, const std::string& input_kind) {
  if (o.output_format != "auto") return o.output_format;
  if (o.out.empty() || o.out == "-") return input_kind;
  const std::string ext = fs::path(o.out).extension().string();
  if (ext == ".csv") return "csv";
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") return "jsonl";
  return input_kind;
}

// Rank 0's output: standard output, or OUT written as OUT.partial and renamed when complete.
class Output {
 public:
  explicit Output(const std::string& path) : path_(path) {
    if (path_.empty() || path_ == "-") return;
    file_.open(path_ + ".partial", std::ios::binary | std::ios::trunc);
    MMAUX_CHECK(file_.good(), "cannot write '{}.partial'", path_);
  }
  void write(const std::string& text) {
    if (file_.is_open()) {
      file_ << text;
      MMAUX_CHECK(file_.good(), "writing '{}.partial' failed (disk full?)", path_);
    } else {
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
  }
  void flush() {
    if (file_.is_open())
      file_.flush();
    else
      std::fflush(stdout);
  }
  void commit() {
    if (!file_.is_open()) return flush();
    file_.close();
    fs::rename(path_ + ".partial", path_);
  }

 private:
  std::string path_;
  std::ofstream file_;
};

}  // namespace

PredictSummary run_predict(const PredictOptions& o, const ModelOptions& model,
                           dist::Communicator& comm) {
  const int rank = comm.rank(), world = comm.world_size();
  MMAUX_CHECK_CONFIG(o.input != "-" || world == 1,
                     "--input -: standard input reaches one rank only; under mpirun give the "
                     "posts as a file every rank can read");
  MMAUX_CHECK_CONFIG(o.batch_size >= 1, "--batch-size {} must be >= 1", o.batch_size);
  if (o.threads > 0) at::set_num_threads(o.threads);
  Job job(o, model);
  PostSource source(o.input, o.input_format, o.image_template);
  job.set_output_kind(output_kind(o, source.format()));
  auto ranks = preprocessing::make_preprocess_ranks(
      std::shared_ptr<dist::Communicator>(&comm, [](dist::Communicator*) {}));
  std::unique_ptr<Output> out;
  if (rank == 0) {
    out = std::make_unique<Output>(o.out);
    out->write(header(job.format()));
  }
  // Rounds of `world` shares of `chunk` rows: every rank reads the same rows and scores its own.
  const size_t chunk = size_t(o.batch_size) * 8;
  PredictSummary sum;
  const auto start = Clock::now();
  for (;;) {
    std::vector<InputPost> rows;
    const size_t n = source.read(chunk * size_t(world), rows);
    if (n == 0) break;
    const size_t per = n / size_t(world), extra = n % size_t(world);
    const size_t first = size_t(rank) * per + std::min(size_t(rank), extra);
    const size_t count = per + (size_t(rank) < extra ? 1 : 0);
    std::vector<InputPost> mine(std::make_move_iterator(rows.begin() + long(first)),
                                std::make_move_iterator(rows.begin() + long(first + count)));
    std::vector<std::string> parts = ranks->all_gather(encode(job.score_rows(std::move(mine))));
    sum.rows += int64_t(n);
    for (const auto& bytes : parts) {
      Part p = decode(bytes);
      sum.scored += p.scored;
      sum.failed += p.failed;
      sum.decode_seconds += p.decode_s;
      sum.model_seconds += p.model_s;
      sum.wait_seconds += p.wait_s;
      if (out) out->write(p.text);
    }
    if (out) out->flush();
  }
  if (out) out->commit();
  sum.seconds = since(start);
  return sum;
}

}  // namespace mmaux::predict
