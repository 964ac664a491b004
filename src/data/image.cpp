#include "mmaux/data/image.h"

#include <vips/vips.h>

#include <algorithm>
#include <filesystem>
#include <mutex>

namespace mmaux::data {
namespace {

/// Owns a VipsImage reference.
struct VipsRef {
  VipsImage* p = nullptr;
  ~VipsRef() {
    if (p != nullptr) g_object_unref(p);
  }
  void reset(VipsImage* next) {
    if (p != nullptr) g_object_unref(p);
    p = next;
  }
};

std::string vips_message() {
  std::string msg = vips_error_buffer();
  vips_error_clear();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg = msg.substr(0, nl);
  return msg.empty() ? "libvips gave no reason" : msg;
}

[[noreturn]] void undecodable(const std::string& path, const std::string& why) {
  throw ImageError("undecodable image", fmt::format("image '{}' cannot be decoded: {}", path, why));
}

/// Applies `op` to `img` (replacing it) or throws undecodable naming `step`.
template <typename Op>
void step(VipsRef& img, const std::string& path, const char* what, Op op) {
  VipsImage* out = nullptr;
  if (op(img.p, &out) != 0) undecodable(path, fmt::format("{}: {}", what, vips_message()));
  img.reset(out);
}

}  // namespace

void init_image_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    MMAUX_CHECK(VIPS_INIT("mmaux") == 0, "libvips failed to initialise: {}", vips_message());
    // Parallelism comes from our own workers, one image each; libvips' own thread pool and its
    // operation cache would only add contention and memory.
    vips_concurrency_set(1);
    vips_cache_set_max(0);
  });
}

std::pair<int, int> target_size(int height, int width, const ImagePreset& p) {
  if (!p.variable_size()) return {p.height, p.width};
  double scale = double(p.shorter) / std::min(height, width);
  double h = height * scale, w = width * scale;
  double longer = std::max(h, w);
  if (longer > p.longer_max) {
    h *= p.longer_max / longer;
    w *= p.longer_max / longer;
  }
  int th = std::max(p.multiple, int(h + 1e-6) / p.multiple * p.multiple);
  int tw = std::max(p.multiple, int(w + 1e-6) / p.multiple * p.multiple);
  return {th, tw};
}

Image load_image(const std::string& path, const ImagePreset& preset) {
  init_image_library();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ImageError("missing image", fmt::format("image '{}' does not exist", path));
  }
  if (std::filesystem::file_size(path, ec) == 0) undecodable(path, "the file is empty (0 bytes)");
  int th = preset.height, tw = preset.width;
  if (preset.variable_size()) {
    VipsRef header;
    header.p = vips_image_new_from_file(path.c_str(), nullptr);
    if (header.p == nullptr) undecodable(path, vips_message());
    int h = vips_image_get_height(header.p), w = vips_image_get_width(header.p);
    if (vips_image_get_orientation_swap(header.p)) std::swap(h, w);
    std::tie(th, tw) = target_size(h, w, preset);
  }
  VipsRef img;
  // thumbnail: shrink-on-load, EXIF autorotation, ICC/CMYK import to sRGB, then Lanczos-3.
  if (vips_thumbnail(path.c_str(), &img.p, tw, "height", th, "size", VIPS_SIZE_FORCE, "fail_on",
                     VIPS_FAIL_ON_TRUNCATED, nullptr) != 0) {
    undecodable(path, vips_message());
  }
  if (vips_image_hasalpha(img.p)) {
    step(img, path, "flatten alpha", [](VipsImage* in, VipsImage** out) {
      VipsArrayDouble* white = vips_array_double_newv(1, 255.0);
      int rc = vips_flatten(in, out, "background", white, nullptr);
      vips_area_unref(VIPS_AREA(white));
      return rc;
    });
  }
  if (vips_image_get_interpretation(img.p) != VIPS_INTERPRETATION_sRGB ||
      vips_image_get_bands(img.p) != 3) {
    step(img, path, "convert to sRGB", [](VipsImage* in, VipsImage** out) {
      return vips_colourspace(in, out, VIPS_INTERPRETATION_sRGB, nullptr);
    });
  }
  if (vips_image_get_format(img.p) != VIPS_FORMAT_UCHAR) {
    step(img, path, "convert to 8 bits",
         [](VipsImage* in, VipsImage** out) { return vips_cast_uchar(in, out, nullptr); });
  }
  if (vips_image_get_bands(img.p) > 3) {
    step(img, path, "keep 3 bands", [](VipsImage* in, VipsImage** out) {
      return vips_extract_band(in, out, 0, "n", 3, nullptr);
    });
  }
  size_t size = 0;
  void* mem = vips_image_write_to_memory(img.p, &size);
  if (mem == nullptr) undecodable(path, vips_message());
  Image out;
  out.height = vips_image_get_height(img.p);
  out.width = vips_image_get_width(img.p);
  MMAUX_ASSERT(out.height == th && out.width == tw && size == size_t(3) * th * tw,
               "thumbnail of '{}' is {}x{} ({} bytes), expected {}x{}", path, out.height, out.width,
               size, th, tw);
  out.pixels.resize(size);
  const auto* src = static_cast<const uint8_t*>(mem);
  const size_t plane = size_t(th) * tw;
  for (size_t i = 0; i < plane; ++i) {
    out.pixels[i] = src[3 * i];
    out.pixels[plane + i] = src[3 * i + 1];
    out.pixels[2 * plane + i] = src[3 * i + 2];
  }
  g_free(mem);
  return out;
}

void save_image(const std::string& path, const Image& image) {
  init_image_library();
  const size_t plane = size_t(image.height) * image.width;
  std::vector<uint8_t> hwc(3 * plane);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) hwc[3 * i + c] = image.pixels[c * plane + i];
  }
  VipsRef img;
  img.p = vips_image_new_from_memory(hwc.data(), hwc.size(), image.width, image.height, 3,
                                     VIPS_FORMAT_UCHAR);
  MMAUX_CHECK(img.p != nullptr, "cannot wrap image for '{}': {}", path, vips_message());
  auto ext = std::filesystem::path(path).extension().string();
  int rc = ext == ".png" ? vips_pngsave(img.p, path.c_str(), nullptr)
                         : vips_jpegsave(img.p, path.c_str(), "Q", 90, nullptr);
  MMAUX_CHECK(rc == 0, "cannot write image '{}': {}", path, vips_message());
}

}  // namespace mmaux::data
