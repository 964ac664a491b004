// `mmaux eval`: re-scores a saved model on a split and writes its predictions.
#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/dist/all_gather.h"
#include "mmaux/train/retrieval.h"
#include "mmaux/train/run_lock.h"
#include "mmaux/train/trainer.h"
#include "run_directory.h"
#include "score_split.h"
#include "session.h"

namespace fs = std::filesystem;

namespace mmaux::train {
namespace {

std::string header(const std::vector<std::string>& classes) {
  std::string out = "post_id,label,predicted";
  for (const auto& c : classes) out += "," + csv_quote("prob_" + c);
  return out + "\n";
}

// One line per prediction, prefixed with the sample index so parts from all ranks can be merged
// in the split's order.
void write_part(const std::string& path, const std::vector<Prediction>& rows,
                const std::vector<std::string>& classes) {
  std::string out;
  for (const auto& r : rows) {
    out += fmt::format("{} {},{},{}", r.sample_index, csv_quote(r.post_id),
                       csv_quote(classes[static_cast<size_t>(r.label)]),
                       csv_quote(classes[static_cast<size_t>(r.predicted)]));
    for (float p : r.probs) out += fmt::format(",{:.6f}", p);
    out += "\n";
  }
  write_file_atomic(path, out);
}

std::string merge_parts(const std::string& out, int world,
                        const std::vector<std::string>& classes) {
  std::vector<std::pair<int64_t, std::string>> lines;
  for (int k = 0; k < world; ++k) {
    std::string p = fmt::format("{}.rank{}", out, k);
    std::ifstream in(p);
    MMAUX_CHECK(in.good(), "cannot read the predictions of rank {} from '{}'", k, p);
    std::string line;
    while (std::getline(in, line)) {
      size_t sp = line.find(' ');
      lines.emplace_back(std::stoll(line.substr(0, sp)), line.substr(sp + 1));
    }
    fs::remove(p);
  }
  std::sort(lines.begin(), lines.end());
  std::string merged = header(classes);
  for (const auto& [idx, l] : lines) merged += l + "\n";
  return merged;
}

std::string metrics_path_of(const std::string& out) {
  return (fs::path(out).parent_path() / (fs::path(out).stem().string() + ".metrics.json")).string();
}

// Rank 0: the metrics JSON beside the predictions, printed too.
void write_metrics(const std::string& out, const nlohmann::json& j) {
  write_file_atomic(metrics_path_of(out), j.dump(2));
  fmt::print("{}\n", j.dump(2));
}

// An unlabeled data set: retrieval only (no labels to score, no predictions to write).
int evaluate_retrieval(Session& session, const EvalRequest& request, const std::string& out) {
  log_info("eval", "the data set in '{}' is unlabeled: retrieval only", session.config.data.dir);
  RetrievalRecall r = split_retrieval(*session.model, session.manifest, session.config.data,
                                      request.split, session.device, *session.comm);
  if (session.comm->rank() == 0) {
    write_metrics(out, {{"split", request.split},
                        {"checkpoint", request.checkpoint},
                        {"labelled", false},
                        {"retrieval", retrieval_json(r)}});
    log_info("eval", "{}: {}; metrics in '{}'", request.split, retrieval_summary(r),
             metrics_path_of(out));
  }
  session.comm->barrier();
  return 0;
}

}  // namespace

int run_evaluation(const RunConfig& config, const EvalRequest& request) {
  RunConfig c = config;
  c.model.dir = request.checkpoint;  // the checkpoint is a model directory (save_pretrained)
  c.train.save_initial.clear();      // a training run's option: eval starts from the checkpoint
  const std::string out =
      request.out.empty()
          ? (fs::path(request.checkpoint) / ("predictions_" + request.split + ".csv")).string()
          : request.out;
  // Writing into a run directory (its best/ by default) takes the run's lock, as a trainer does.
  std::optional<FileLock> lock;
  Session session(c, [&](dist::Communicator& comm) {
    const std::string run_dir =
        comm.rank() == 0 ? enclosing_run_directory(out).value_or("") : std::string();
    lock = lock_for_job(run_dir, LockOwner::this_process("mmaux eval", c.batch_job), false, comm);
  });
  MMAUX_CHECK_CONFIG(session.manifest.has_split(request.split),
                     "the data set in '{}' has no '{}' split", c.data.dir, request.split);
  if (!session.manifest.labelled()) return evaluate_retrieval(session, request, out);
  std::vector<Prediction> mine;
  EvalResult r = score_split(session, request.split, &mine, /*retrieval=*/true);

  // Each rank writes its rows; rank 0 merges them in sample order.
  auto& comm = *session.comm;
  write_part(fmt::format("{}.rank{}", out, comm.rank()), mine, session.manifest.class_names());
  comm.barrier();
  if (comm.rank() == 0) {
    write_file_atomic(out, merge_parts(out, comm.world_size(), session.manifest.class_names()));
    nlohmann::json j = metrics_to_json(r.metrics, session.manifest.class_names());
    j["loss"] = r.loss;
    j["split"] = request.split;
    j["checkpoint"] = request.checkpoint;
    nlohmann::json rel = nlohmann::json::object();
    for (const auto& [name, m] : r.by_relation)
      rel[name] = metrics_to_json(m, session.manifest.class_names());
    j["by_relation"] = rel;
    j["retrieval"] = retrieval_json(*r.retrieval);
    write_metrics(out, j);
    log_info("eval",
             "{}: macro F1 {:.4f}, weighted F1 {:.4f}, accuracy {:.4f}; {}; predictions in '{}'",
             request.split, r.metrics.macro_f1, r.metrics.weighted_f1, r.metrics.accuracy,
             retrieval_summary(*r.retrieval), out);
  }
  comm.barrier();
  return 0;
}

}  // namespace mmaux::train
