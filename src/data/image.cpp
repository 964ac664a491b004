#include "mmaux/data/image.h"

#include "mmaux/core/log.h"

#include <vips/vips.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <tuple>

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
    // Posts' images are untrusted input: only loaders libvips considers safe for it (JPEG, PNG,
    // GIF, WebP, TIFF, ... but not ImageMagick, Matlab or FITS) may open them.
    vips_block_untrusted_set(TRUE);
    // libvips' warnings (e.g. "premature end of JPEG file") become debug lines: the skip report
    // already names every image that failed, and a broken data set would flood stderr.
    g_log_set_handler(
        "VIPS", GLogLevelFlags(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
        [](const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
          log_debug("image", "libvips: {}", message ? message : "");
        },
        nullptr);
  });
}

std::pair<int, int> target_size(int height, int width, const ImagePreset& p) {
  if (p.center_crop()) {
    // torchvision's Resize(int): the shorter side becomes `shorter`, the longer one
    // int(shorter * long / short), truncated.
    if (height <= width) return {p.shorter, int(int64_t(p.shorter) * width / height)};
    return {int(int64_t(p.shorter) * height / width), p.shorter};
  }
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

namespace {

/// PIL's precompute_coeffs + normalize_coeffs_8bpc for one axis: for each output pixel, the first
/// input pixel and fixed-point weights of a triangle filter widened by the downscale factor.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coeffs {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;  ///< out_size * taps
  int taps = 0;
};

Coeffs triangle_coeffs(int in_size, int out_size) {
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Coeffs c;
  c.taps = int(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(size_t(out_size) * c.taps, 0);
  std::vector<double> k(size_t(c.taps));
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    int lo = std::max(int(center - support + 0.5), 0);
    int hi = std::min(int(center + support + 0.5), in_size);
    int n = std::min(hi - lo, c.taps);
    double total = 0;
    for (int j = 0; j < n; ++j) {
      double x = (j + lo - center + 0.5) / filterscale;
      k[j] = std::abs(x) < 1.0 ? 1.0 - std::abs(x) : 0.0;
      total += k[j];
    }
    int32_t* w = &c.weights[size_t(o) * c.taps];
    for (int j = 0; j < n; ++j) {
      double v = total > 0 ? k[j] / total : 0.0;
      w[j] = int32_t(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[o] = lo;
    c.count[o] = n;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return uint8_t(v >> kPrecisionBits);
}

}  // namespace

Image resize_bilinear(const uint8_t* hwc, int height, int width, int out_height, int out_width) {
  return resize_rows(hwc, size_t(width) * 3, height, width, out_height, out_width);
}

namespace {

// The horizontal pass of rows [y0, y0 + rows) of interleaved RGB (`stride` bytes apart, `hwc`
// pointing at row y0) into 8-bit interleaved rows of `dst` (out_width · 3 bytes each, row y0
// first). Rows are independent: the image can be fed band by band.
void horizontal_pass(const uint8_t* hwc, size_t stride, int rows, const Coeffs& cx, int out_width,
                     uint8_t* dst) {
  const int row_len = out_width * 3;
  const int32_t half = 1 << (kPrecisionBits - 1);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* row = hwc + size_t(y) * stride;
    uint8_t* out = dst + size_t(y) * row_len;
    for (int o = 0; o < out_width; ++o) {
      const int32_t* w = &cx.weights[size_t(o) * cx.taps];
      const uint8_t* src = row + size_t(cx.first[o]) * 3;
      int32_t r = half, g = half, b = half;
      for (int k = 0; k < cx.count[o]; ++k) {
        r += src[3 * k] * w[k];
        g += src[3 * k + 1] * w[k];
        b += src[3 * k + 2] * w[k];
      }
      out[3 * o] = clip8(r);
      out[3 * o + 1] = clip8(g);
      out[3 * o + 2] = clip8(b);
    }
  }
}

// The vertical pass over every row of `tmp` (height rows of out_width · 3 bytes) into
// channel-first output.
Image vertical_pass(const std::vector<uint8_t>& tmp, int height, int out_height, int out_width) {
  Coeffs cy = triangle_coeffs(height, out_height);
  const int row_len = out_width * 3;
  thread_local std::vector<int32_t> acc;
  acc.resize(size_t(row_len));
  const int32_t half = 1 << (kPrecisionBits - 1);
  Image out;
  out.height = out_height;
  out.width = out_width;
  const size_t plane = size_t(out_height) * out_width;
  out.pixels.resize(3 * plane);
  int32_t* a = acc.data();
  for (int o = 0; o < out_height; ++o) {
    std::fill(acc.begin(), acc.end(), half);
    const int32_t* w = &cy.weights[size_t(o) * cy.taps];
    for (int k = 0; k < cy.count[o]; ++k) {
      const uint8_t* src = &tmp[size_t(cy.first[o] + k) * row_len];
      const int32_t wk = w[k];
      for (int i = 0; i < row_len; ++i) a[i] += src[i] * wk;
    }
    uint8_t* r = &out.pixels[size_t(o) * out_width];
    uint8_t* g = r + plane;
    uint8_t* b = g + plane;
    for (int x = 0; x < out_width; ++x) {
      r[x] = clip8(a[3 * x]);
      g[x] = clip8(a[3 * x + 1]);
      b[x] = clip8(a[3 * x + 2]);
    }
  }
  return out;
}

// The horizontal pass's output, reused per thread: fresh large buffers would be fresh pages
// (page faults) for every image.
std::vector<uint8_t>& horizontal_buffer(int height, int out_width) {
  thread_local std::vector<uint8_t> tmp;
  tmp.resize(size_t(height) * out_width * 3);
  return tmp;
}

}  // namespace

Image resize_rows(const uint8_t* hwc, size_t stride, int height, int width, int out_height,
                  int out_width) {
  // Horizontal pass into 8-bit interleaved rows, then the vertical pass into channel-first
  // output, both in PIL's fixed point (so the result is PIL's bit for bit).
  Coeffs cx = triangle_coeffs(width, out_width);
  std::vector<uint8_t>& tmp = horizontal_buffer(height, out_width);
  horizontal_pass(hwc, stride, height, cx, out_width, tmp.data());
  return vertical_pass(tmp, height, out_height, out_width);
}

namespace {

[[noreturn]] void too_large(const std::string& path, const std::string& why) {
  throw ImageError("image too large", fmt::format("image '{}' {}", path, why));
}

// Step 1: the file's bytes, read once (a buffer per thread, reused from image to image), after
// the size limit.
std::string& read_image_file(const std::string& path, const ImageLimits& limits) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw ImageError("missing image", fmt::format("image '{}' does not exist", path));
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) undecodable(path, ec.message());
  if (size == 0) undecodable(path, "the file is empty (0 bytes)");
  if (limits.max_bytes > 0 && size > uint64_t(limits.max_bytes)) {
    too_large(path, fmt::format("is {} bytes, more than --max-image-bytes {}; raise the limit if "
                                "such files are expected",
                                size, limits.max_bytes));
  }
  thread_local std::string bytes;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) undecodable(path, std::strerror(errno));
  bytes.resize(size_t(size));
  size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  if (got != bytes.size()) undecodable(path, "short read");
  return bytes;
}

bool is_jpeg(const std::string& bytes) {
  return bytes.size() >= 3 && uint8_t(bytes[0]) == 0xFF && uint8_t(bytes[1]) == 0xD8 &&
         uint8_t(bytes[2]) == 0xFF;
}

// A lazy image over `bytes`: JPEGs go straight to the JPEG loader with libjpeg's shrink-on-load
// (the generic loader sniffs every format, slide formats included, which costs more than
// decoding a small JPEG); other formats through the generic loader.
VipsImage* open_image(const std::string& path, std::string& bytes, bool jpeg, int shrink) {
  VipsImage* out = nullptr;
  int rc = jpeg ? vips_jpegload_buffer(bytes.data(), bytes.size(), &out, "access",
                                       VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_TRUNCATED,
                                       "shrink", shrink, nullptr)
                : ((out = vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "access",
                                                     VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                                     VIPS_FAIL_ON_TRUNCATED, nullptr)) != nullptr
                       ? 0
                       : -1);
  if (rc != 0 || out == nullptr) undecodable(path, vips_message());
  return out;
}

// Step 2: header only (lazy): the pixel limit, upright size, target size, and for JPEGs the
// shrink-on-load factor (libjpeg's DCT scaling by 2, 4 or 8 while both sides stay at or above
// the target). No pixel has been decoded when the limit refuses an image.
void open_at_decode_size(VipsRef& img, const std::string& path, std::string& bytes,
                         const ImagePreset& preset, const ImageLimits& limits, int* th, int* tw) {
  const bool jpeg = is_jpeg(bytes);
  img.reset(open_image(path, bytes, jpeg, 1));
  int h = vips_image_get_height(img.p), w = vips_image_get_width(img.p);
  const int64_t pixels = int64_t(h) * w;
  if (limits.max_pixels > 0 && pixels > limits.max_pixels) {
    too_large(path, fmt::format("declares {}x{} = {} pixels, more than --max-image-pixels {} "
                                "(PIL's limit by default); not decoded",
                                w, h, pixels, limits.max_pixels));
  }
  if (vips_image_get_orientation_swap(img.p)) std::swap(h, w);
  std::tie(*th, *tw) = target_size(h, w, preset);
  int shrink = 1;
  if (jpeg) {
    while (shrink < 8 && h / (shrink * 2) >= *th && w / (shrink * 2) >= *tw) shrink *= 2;
  }
  if (shrink > 1) img.reset(open_image(path, bytes, jpeg, shrink));
}

// Step 3: upright, 8-bit sRGB, no alpha.
void to_upright_srgb8(VipsRef& img, const std::string& path) {
  if (vips_image_get_orientation(img.p) > 1) {
    step(img, path, "apply EXIF orientation",
         [](VipsImage* in, VipsImage** out) { return vips_autorot(in, out, nullptr); });
  }
  const auto interp = vips_image_get_interpretation(img.p);
  if (interp == VIPS_INTERPRETATION_CMYK || vips_image_get_typeof(img.p, VIPS_META_ICC_NAME) != 0) {
    // An embedded profile (or libvips' CMYK fallback) converts exactly to sRGB.
    step(img, path, "import colour profile", [](VipsImage* in, VipsImage** out) {
      return vips_icc_transform(in, out, "srgb", "embedded", TRUE, "intent", VIPS_INTENT_RELATIVE,
                                nullptr);
    });
  }
  if (vips_image_hasalpha(img.p)) {
    step(img, path, "flatten alpha", [](VipsImage* in, VipsImage** out) {
      double max = vips_image_get_format(in) == VIPS_FORMAT_USHORT ? 65535.0 : 255.0;
      VipsArrayDouble* white = vips_array_double_newv(1, max);
      int rc = vips_flatten(in, out, "background", white, nullptr);
      vips_area_unref(VIPS_AREA(white));
      return rc;
    });
  }
  if (vips_image_get_bands(img.p) != 3 ||
      (vips_image_get_interpretation(img.p) != VIPS_INTERPRETATION_sRGB &&
       vips_image_get_interpretation(img.p) != VIPS_INTERPRETATION_MULTIBAND)) {
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
}

// Step 4: decode in this thread, band by band (a region computed in place, no libvips worker
// thread: the pool of our own workers is the parallelism; errors such as truncation surface
// here), each band through the horizontal pass at once, then the vertical pass. Only one band of
// decoded rows is held: about kBandBytes, at least one row.
Image decode_and_resize(VipsRef& img, const std::string& path, int th, int tw) {
  constexpr size_t kBandBytes = size_t(4) << 20;
  const int dh = vips_image_get_height(img.p), dw = vips_image_get_width(img.p);
  MMAUX_ASSERT(
      vips_image_get_bands(img.p) == 3 && vips_image_get_format(img.p) == VIPS_FORMAT_UCHAR,
      "'{}' is not 8-bit RGB after conversion", path);
  const int band = int(std::clamp<size_t>(kBandBytes / (size_t(dw) * 3), 1, size_t(dh)));
  const Coeffs cx = triangle_coeffs(dw, tw);
  std::vector<uint8_t>& tmp = horizontal_buffer(dh, tw);
  VipsRegion* region = vips_region_new(img.p);
  if (region == nullptr) undecodable(path, vips_message());
  for (int y = 0; y < dh; y += band) {
    VipsRect rect{0, y, dw, std::min(band, dh - y)};
    if (vips_region_prepare(region, &rect) != 0) {
      g_object_unref(region);
      undecodable(path, vips_message());
    }
    horizontal_pass(reinterpret_cast<const uint8_t*>(VIPS_REGION_ADDR(region, 0, y)),
                    size_t(VIPS_REGION_LSKIP(region)), rect.height, cx, tw,
                    &tmp[size_t(y) * tw * 3]);
  }
  g_object_unref(region);
  return vertical_pass(tmp, dh, th, tw);
}

}  // namespace

int center_crop_offset(int size, int crop) {
  // Python's round((size - crop) / 2): halves go to the even neighbour.
  const int twice = size - crop;
  if (twice % 2 == 0) return twice / 2;
  const int lower = twice / 2;
  return lower % 2 == 0 ? lower : lower + 1;
}

Image center_crop(const Image& image, int height, int width) {
  MMAUX_ASSERT(image.height >= height && image.width >= width, "crop {}x{} of a {}x{} image",
               height, width, image.height, image.width);
  const int top = center_crop_offset(image.height, height);
  const int left = center_crop_offset(image.width, width);
  Image out;
  out.height = height;
  out.width = width;
  out.pixels.resize(size_t(3) * height * width);
  const size_t in_plane = size_t(image.height) * image.width, out_plane = size_t(height) * width;
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < height; ++y) {
      const uint8_t* src = &image.pixels[c * in_plane + size_t(top + y) * image.width + left];
      std::copy(src, src + width, &out.pixels[c * out_plane + size_t(y) * width]);
    }
  }
  return out;
}

Image load_image(const std::string& path, const ImagePreset& preset, const ImageLimits& limits) {
  init_image_library();
  std::string& bytes = read_image_file(path, limits);
  VipsRef img;
  int th = 0, tw = 0;
  open_at_decode_size(img, path, bytes, preset, limits, &th, &tw);
  to_upright_srgb8(img, path);
  Image resized = decode_and_resize(img, path, th, tw);
  if (!preset.center_crop()) return resized;
  return center_crop(resized, preset.height, preset.width);
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
