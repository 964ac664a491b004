#pragma once
/// The image pipeline of preprocessing: decode (JPEG, PNG, GIF first frame, WebP, anything
/// libvips reads), apply the EXIF orientation, convert to 8-bit sRGB (grey, CMYK via an ICC
/// profile or libvips' fallback, alpha flattened onto white), and resize per ImagePreset.
///
/// Resampling: libvips `thumbnail` — JPEGs are first decoded at a reduced scale by libjpeg's DCT
/// scaling (1/2, 1/4, 1/8, never below twice the target), then reduced with a Lanczos-3 kernel
/// (and upsized with bicubic). PIL's `resize(..., BILINEAR)` uses a triangle filter widened by the
/// scale factor from the full-resolution image: our output is slightly sharper; values differ by a
/// few levels on average, edges more.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/core/error.h"
#include "mmaux/data/manifest.h"

namespace mmaux::data {

/// A decoded, resized image, channel-first RGB.
struct Image {
  std::vector<uint8_t> pixels;  ///< [3, height, width]
  int height = 0;
  int width = 0;
};

/// Why an image was rejected (used in the skip report).
class ImageError : public DataError {
 public:
  ImageError(std::string reason, const std::string& what) : DataError(what), reason_(reason) {}
  /// "missing image" or "undecodable image"
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

/// Initialises libvips once per process (thread-safe; called by load_image).
void init_image_library();

/// The output size (height, width) for an upright image of `height` × `width` under `preset`.
/// fixed: the preset's size. vilt: shorter side → shorter; if the longer side then exceeds
/// longer_max, scale so it equals longer_max; both rounded down to multiples of `multiple`.
std::pair<int, int> target_size(int height, int width, const ImagePreset& preset);

/// Decodes and resizes the image at `path`. Thread-safe. Throws ImageError("missing image") when
/// the file does not exist and ImageError("undecodable image") when it cannot be decoded
/// (zero bytes, truncated, not an image).
Image load_image(const std::string& path, const ImagePreset& preset);

/// Writes an RGB image (channel-first) as JPEG (quality 90) or PNG, chosen by the extension.
void save_image(const std::string& path, const Image& image);

}  // namespace mmaux::data
