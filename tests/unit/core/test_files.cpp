// Atomic file and directory replacement. The failures are real ones the kernel produces for any
// user, root included: a file size limit (EFBIG, as a full disk gives ENOSPC), a rename onto a
// directory, a missing path, a writer that throws half-way.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace mmaux {
namespace {

using testing::message_of;

/// Names in `dir`, hidden ones included.
std::vector<std::string> names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(WriteFileAtomic, WritesReplacesAndLeavesNoTemporaryFile) {
  testing::TempDir dir;
  const std::string path = (dir / "results.json").string();
  write_file_atomic(path, "first");
  write_file_atomic(path, std::string("second\0with a zero", 18));
  EXPECT_EQ(testing::read_file(path), std::string("second\0with a zero", 18));
  EXPECT_EQ(names(dir.path()), std::vector<std::string>{"results.json"});
  // Created like any file (0666 less the umask), not 0600 like a mkstemp file.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(fs::status(path).permissions(), static_cast<fs::perms>(0666 & ~mask) & fs::perms::all);
  // Missing parent directories are created.
  write_file_atomic((dir / "a" / "b" / "c.txt").string(), "deep");
  EXPECT_EQ(testing::read_file(dir / "a" / "b" / "c.txt"), "deep");
}

TEST(WriteFileAtomic, StreamsLargeContentFromAWriter) {
  testing::TempDir dir;
  const std::string path = (dir / "big.bin").string();
  write_file_atomic(path, [](std::ostream& out) {
    for (int i = 0; i < 1000; ++i) out << std::string(1000, char('a' + i % 26));
  });
  EXPECT_EQ(fs::file_size(path), 1000000u);
}

// The file size limit makes write(2) fail with EFBIG, for root too: the same path through the
// code as a full disk (ENOSPC).
TEST(WriteFileAtomic, AFailedWriteLeavesTheOldFileIntact) {
  testing::TempDir dir;
  const std::string path = (dir / "state.json").string();
  write_file_atomic(path, "old content");
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string msg = message_of([&] { write_file_atomic(path, std::string(1 << 20, 'x')); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find("cannot write '" + path + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("disk full"), std::string::npos) << msg;
  EXPECT_EQ(testing::read_file(path), "old content");
  EXPECT_EQ(names(dir.path()), std::vector<std::string>{"state.json"});
}

TEST(WriteFileAtomic, AWriterThatThrowsLeavesTheOldFileIntact) {
  testing::TempDir dir;
  const std::string path = (dir / "model.safetensors").string();
  write_file_atomic(path, "old");
  EXPECT_THROW(write_file_atomic(path,
                                 [](std::ostream& out) {
                                   out << "half of it";
                                   MMAUX_THROW(DataError, "tensor 'x' has no data");
                                 }),
               DataError);
  EXPECT_EQ(testing::read_file(path), "old");
  EXPECT_EQ(names(dir.path()), std::vector<std::string>{"model.safetensors"});
}

TEST(WriteFileAtomic, AFailedRenameIsReportedAndCleanedUp) {
  testing::TempDir dir;
  fs::create_directories(dir / "taken" / "inside");  // a non-empty directory at the path
  const std::string path = (dir / "taken").string();
  std::string msg = message_of([&] { write_file_atomic(path, "text"); });
  EXPECT_NE(msg.find("cannot write '" + path + "': renaming"), std::string::npos) << msg;
  EXPECT_TRUE(fs::is_directory(dir / "taken" / "inside"));
  EXPECT_EQ(names(dir.path()), std::vector<std::string>{"taken"});
  // A parent that is a file: the directory cannot be made.
  testing::write_file(dir / "plain", "x");
  msg = message_of([&] { write_file_atomic((dir / "plain" / "f.txt").string(), "text"); });
  EXPECT_NE(msg.find("plain/f.txt"), std::string::npos) << msg;
}

TEST(ReplaceDirectory, SwapsInTheStagedDirectory) {
  testing::TempDir dir;
  const fs::path best = dir / "best", staged = dir / ".tmp-best";
  testing::write_file(staged / "model.safetensors", "v1");
  replace_directory(staged.string(), best.string());  // no previous version
  EXPECT_EQ(testing::read_file(best / "model.safetensors"), "v1");
  testing::write_file(staged / "model.safetensors", "v2");
  testing::write_file(staged / "best.json", "{}");
  testing::write_file(dir / ".old-best" / "junk", "left by a crash");
  replace_directory(staged.string(), best.string());
  EXPECT_EQ(testing::read_file(best / "model.safetensors"), "v2");
  EXPECT_TRUE(fs::exists(best / "best.json"));
  EXPECT_EQ(names(dir.path()), std::vector<std::string>{"best"});
}

TEST(ReplaceDirectory, AMissingStagedDirectoryLeavesTheTargetIntact) {
  testing::TempDir dir;
  testing::write_file(dir / "best" / "model.safetensors", "v1");
  std::string msg =
      message_of([&] { replace_directory((dir / ".tmp-best").string(), (dir / "best").string()); });
  EXPECT_NE(msg.find(".tmp-best"), std::string::npos) << msg;
  EXPECT_EQ(testing::read_file(dir / "best" / "model.safetensors"), "v1");
}

TEST(RecoverInterruptedWrites, RecognisesOnlyTemporaryFileNames) {
  EXPECT_TRUE(is_atomic_write_temporary(".results.json.tmp-4242-0"));
  EXPECT_TRUE(is_atomic_write_temporary(".a.tmp-1-17"));
  EXPECT_FALSE(is_atomic_write_temporary("results.json"));
  EXPECT_FALSE(is_atomic_write_temporary("a.tmp-1-2"));           // not hidden
  EXPECT_FALSE(is_atomic_write_temporary(".tmp-1-2"));            // no name
  EXPECT_FALSE(is_atomic_write_temporary(".a.tmp-1-"));           // no counter
  EXPECT_FALSE(is_atomic_write_temporary(".a.tmp-x-2"));          // no pid
  EXPECT_FALSE(is_atomic_write_temporary(".tmp-step-00000008"));  // a staged directory's name
}

// What write_file_atomic and replace_directory leave when the process dies between their steps,
// made by running them for real and then putting back what a kill at that point would leave.
TEST(RecoverInterruptedWrites, RemovesTemporariesAndMovesBackAnAbandonedOldCopy) {
  testing::TempDir dir;
  write_file_atomic((dir / "results.json").string(), "{}");
  testing::write_file(dir / ".results.json.tmp-999999-3", "half");  // killed before step 4
  // Killed between steps 2 and 3 of replace_directory: best/ moved aside, the new one not in.
  testing::write_file(dir / "best" / "model.safetensors", "v1");
  fs::rename(dir / "best", dir / ".old-best");
  // Killed after step 3: the new version is in, the old one not yet removed.
  testing::write_file(dir / "step-2" / "state.json", "new");
  testing::write_file(dir / ".old-step-2" / "state.json", "old");
  testing::write_file(dir / "metrics.jsonl", "kept\n");

  std::vector<std::string> done = recover_interrupted_writes(dir.path().string());
  EXPECT_EQ(done.size(), 3u);
  EXPECT_EQ(names(dir.path()),
            (std::vector<std::string>{"best", "metrics.jsonl", "results.json", "step-2"}));
  EXPECT_EQ(testing::read_file(dir / "best" / "model.safetensors"), "v1");
  EXPECT_EQ(testing::read_file(dir / "step-2" / "state.json"), "new");
  EXPECT_TRUE(recover_interrupted_writes(dir.path().string()).empty());
  EXPECT_TRUE(recover_interrupted_writes((dir / "absent").string()).empty());
}

TEST(Files, FsyncAndReadNameTheMissingPath) {
  EXPECT_NE(message_of([] { fsync_path("/nonexistent/mmaux-x"); }).find("/nonexistent/mmaux-x"),
            std::string::npos);
  EXPECT_THROW(read_whole_file("/nonexistent/mmaux-y"), DataError);
  testing::TempDir dir;
  testing::write_file(dir / "a.txt", std::string("a\0b", 3));
  EXPECT_EQ(read_whole_file((dir / "a.txt").string()), std::string("a\0b", 3));
}

}  // namespace
}  // namespace mmaux
