#include "run_directory.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/train/run_lock.h"

namespace fs = std::filesystem;

namespace mmaux::train {
namespace {

// Directories a writer stages before it swaps them in (CheckpointStore::save, BestModel::promote).
constexpr const char* kStagedPrefix = ".tmp-";

void remove_staged_directories(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  std::vector<fs::path> staged;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().rfind(kStagedPrefix, 0) == 0)
      staged.push_back(e.path());
  }
  for (const auto& p : staged) {
    fs::remove_all(p, ec);
    MMAUX_CHECK(!ec, "cannot remove '{}', left by a writer that was stopped half-way: {}",
                p.string(), ec.message());
    log_warn("run", "removed '{}': a half-written copy left by a run that was stopped", p.string());
  }
}

// A process killed inside append_jsonl may leave a last line without its end: cut it off, so
// that every line of metrics.jsonl stays one JSON record.
void cut_torn_last_line(const fs::path& file) {
  std::error_code ec;
  const auto size = static_cast<int64_t>(fs::file_size(file, ec));
  if (ec || size == 0) return;
  std::ifstream in(file, std::ios::binary);
  int64_t keep = 0;
  constexpr int64_t kChunk = 1 << 16;
  std::string buf;
  for (int64_t end = size; end > 0 && keep == 0; end -= kChunk) {
    const int64_t begin = std::max<int64_t>(0, end - kChunk);
    buf.resize(static_cast<size_t>(end - begin));
    in.seekg(begin);
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    MMAUX_CHECK(in.good(), "cannot read '{}' to check its last line", file.string());
    const size_t nl = buf.rfind('\n');
    if (nl != std::string::npos) keep = begin + static_cast<int64_t>(nl) + 1;
    if (end == size && keep == size) return;  // ends with a complete line
  }
  fs::resize_file(file, static_cast<uintmax_t>(keep), ec);
  MMAUX_CHECK(!ec, "cannot cut the unfinished last line of '{}': {}", file.string(), ec.message());
  log_warn("run", "cut an unfinished last line ({} bytes) off '{}', left by a run that was stopped",
           size - keep, file.string());
}

}  // namespace

std::optional<FileLock> lock_for_job(const std::string& run_dir, const LockOwner& owner,
                                     bool create, dist::Communicator& comm) {
  std::optional<FileLock> lock;
  std::string failure;
  int exit_code = kExitOk;
  if (comm.rank() == 0 && !run_dir.empty()) {
    try {
      if (create) fs::create_directories(run_dir);
      lock.emplace(lock_run_directory(run_dir, owner));
    } catch (const Error& e) {
      failure = e.what();
      exit_code = e.exit_code();
    } catch (const std::exception& e) {  // std::filesystem_error
      failure = fmt::format("cannot create run directory '{}': {}", run_dir, e.what());
      exit_code = kExitRuntimeError;
    }
  }
  at::Tensor code = at::full({1}, int64_t{exit_code}, at::kLong).to(comm.device());
  comm.broadcast(code, 0);
  exit_code = static_cast<int>(code.cpu().item<int64_t>());
  if (exit_code == kExitOk) return lock;
  if (comm.rank() == 0) throw AgreedError(failure, exit_code);
  throw AgreedError("rank 0 could not take the run directory's lock (its error names the holder)",
                    exit_code);
}

void repair_run_directory(const std::string& run_dir) {
  const fs::path run(run_dir);
  remove_staged_directories(run);
  remove_staged_directories(run / "checkpoints");
  for (const fs::path& dir : {run, run / "best", run / "checkpoints"}) {
    for (const std::string& done : recover_interrupted_writes(dir.string()))
      log_warn("run", "{}: left by a run that was stopped", done);
  }
  if (fs::exists(run / "metrics.jsonl")) cut_torn_last_line(run / "metrics.jsonl");
}

}  // namespace mmaux::train
