// Peak memory and time of load_image on hostile and on very large images: each case runs in a
// forked child, and the child's peak resident memory (from wait4) less the parent's is what the
// decode added. The parent never starts libvips (its threads would not survive a fork): images
// are written by children too. Prints figures; never passes or fails.
//
//   bench_image_memory [side=9000] [preset=fixed:224]
//
// Cases: the header-only bombs of tests/data/image_bombs (refused from their headers), then real
// side × side images written here with libvips (noise, so that nothing compresses away): PNG,
// interlaced PNG, baseline and progressive JPEG, WebP and GIF. The default side, 9000, is just
// under PIL's pixel limit (81 M of 89.5 M pixels): the worst case an accepted image can be.
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vips/vips.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "mmaux/data/image.h"

namespace fs = std::filesystem;
using mmaux::data::ImagePreset;

namespace {

// Writes a side × side RGB noise image to `path` in the format its extension names.
bool write_noise(const fs::path& path, int side, const char* options) {
  if (VIPS_INIT("bench_image_memory") != 0) return false;
  VipsImage* noise = nullptr;
  VipsImage* rgb = nullptr;
  VipsImage* u8 = nullptr;
  bool ok = vips_gaussnoise(&noise, side, side, "mean", 128.0, "sigma", 40.0, nullptr) == 0 &&
            vips_bandjoin_const1(noise, &rgb, 128.0, nullptr) == 0 &&
            vips_bandjoin_const1(rgb, &u8, 64.0, nullptr) == 0;
  VipsImage* out = nullptr;
  ok = ok && vips_cast_uchar(u8, &out, nullptr) == 0;
  ok = ok && vips_image_write_to_file(out, (path.string() + options).c_str(), nullptr) == 0;
  for (VipsImage* im : {noise, rgb, u8, out}) {
    if (im != nullptr) g_object_unref(im);
  }
  if (!ok) {
    fmt::print("  (could not write {}: {})\n", path.filename().string(), vips_error_buffer());
    vips_error_clear();
  }
  return ok;
}

// Runs `job` in a child process; returns false when it did not exit 0.
template <typename Job>
bool in_child(Job job) {
  pid_t pid = fork();
  if (pid == 0) _exit(job() ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Decodes `path` in a child process; prints the outcome, the time and the child's peak memory.
void measure(const fs::path& path, const ImagePreset& preset,
             const mmaux::data::ImageLimits& limits) {
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  const long parent_kb = self.ru_maxrss;
  int pipefd[2];
  if (pipe(pipefd) != 0) return;
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    std::string outcome;
    try {
      auto img = mmaux::data::load_image(path.string(), preset, limits);
      outcome = fmt::format("decoded to {}x{}", img.width, img.height);
    } catch (const mmaux::data::ImageError& e) {
      outcome = e.reason();
    }
    (void)!write(pipefd[1], outcome.data(), outcome.size());
    _exit(0);
  }
  close(pipefd[1]);
  char buf[256] = {0};
  const ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
  close(pipefd[0]);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("  {:<28} {:>10.1f} KB  {:>7.3f} s  peak +{:>7.1f} MB  {}\n", path.filename().string(),
             double(fs::file_size(path)) / 1024, s, double(ru.ru_maxrss - parent_kb) / 1024,
             n > 0 ? std::string(buf, size_t(n)) : "?");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int side = argc > 1 ? std::stoi(argv[1]) : 9000;
  const ImagePreset preset = ImagePreset::parse(argc > 2 ? argv[2] : "fixed:224");
  const fs::path src = MMAUX_SOURCE_DIR;
  const fs::path dir = fs::temp_directory_path() / fmt::format("mmaux-bench-image-{}", getpid());
  fs::create_directories(dir);
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  fmt::print(
      "load_image, preset {}, limits: {} pixels, {} bytes (peak: a child's peak resident "
      "memory less the parent's, {:.1f} MB at start)\n",
      preset.to_string(), mmaux::data::ImageLimits{}.max_pixels,
      mmaux::data::ImageLimits{}.max_bytes, double(self.ru_maxrss) / 1024);
  fmt::print("header-only bombs:\n");
  for (const auto& e : fs::directory_iterator(src / "tests/data/image_bombs")) {
    if (e.path().extension() != ".py") measure(e.path(), preset, {});
  }
  // Noise images of this size exceed the file size limit (which would refuse them unread): it is
  // off here, so that what the decoders themselves hold is measured.
  mmaux::data::ImageLimits no_size_limit;
  no_size_limit.max_bytes = 0;
  fmt::print("real {}x{} images ({:.1f} M pixels; file size limit off):\n", side, side,
             double(side) * side / 1e6);
  const std::pair<const char*, const char*> kCases[] = {
      {"noise.png", "[compression=1]"}, {"noise-interlaced.png", "[interlace=true]"},
      {"noise.jpg", "[Q=90]"},          {"noise-progressive.jpg", "[Q=90,interlace=true]"},
      {"noise.webp", "[Q=80]"},         {"noise.gif", ""}};
  for (const auto& [name, options] : kCases) {
    const fs::path path = dir / name;
    const char* opts = options;
    if (in_child([&] { return write_noise(path, side, opts); })) {
      measure(path, preset, no_size_limit);
    }
  }
  fs::remove_all(dir);
  return 0;
}
