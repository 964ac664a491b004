#pragma once
/// The image pipeline of preprocessing: decode (JPEG, PNG, GIF first frame, WebP, anything
/// libvips reads), apply the EXIF orientation, convert to 8-bit sRGB (grey, CMYK via an ICC
/// profile or libvips' fallback, alpha flattened onto white), and resize per ImagePreset.
///
/// Resampling: JPEGs are decoded at a reduced scale by libjpeg's DCT scaling (1/2, 1/4 or 1/8,
/// the largest that keeps both sides at or above the target); then PIL's BILINEAR algorithm is
/// applied: a separable triangle filter whose support widens with the downscale factor, weights
/// normalised per output pixel, PIL's 22-bit fixed point, rounding to 8 bits between the
/// horizontal and the vertical pass (a pass at scale 1 is the identity, as PIL skipping it).
/// Without a DCT pre-shrink (PNG, GIF, WebP, JPEGs under twice the target) the output should be
/// PIL's `resize((w, h), Image.BILINEAR)` bit for bit; this is checked against values computed by
/// hand from PIL's algorithm, not against PIL. With it, the DCT's block-wise reduction replaces
/// part of the triangle filtering, so values differ from PIL's by a few levels, more at edges.

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

/// What load_image refuses before decoding, so that a hostile or accidental "decompression bomb"
/// (a tiny file declaring a huge image) costs neither memory nor time.
struct ImageLimits {
  /// Width × height read from the header (first frame). PIL's Image.MAX_IMAGE_PIXELS by default;
  /// 0 = no limit.
  int64_t max_pixels = 89478485;
  /// File size in bytes (the file is read into memory whole). 0 = no limit.
  int64_t max_bytes = int64_t(64) << 20;
};

/// Why an image was rejected (used in the skip report).
class ImageError : public DataError {
 public:
  ImageError(std::string reason, const std::string& what) : DataError(what), reason_(reason) {}
  /// "missing image", "image too large" or "undecodable image"
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

/// Initialises libvips once per process (thread-safe; called by load_image).
void init_image_library();

/// The output size (height, width) for an upright image of `height` × `width` under `preset`.
/// fixed: the preset's size. resnet: the size before the centre crop (shorter side → shorter,
/// the longer side scaled and truncated). vilt: shorter side → shorter; if the longer side then
/// exceeds longer_max, scale so it equals longer_max; both rounded down to multiples of `multiple`.
std::pair<int, int> target_size(int height, int width, const ImagePreset& preset);

/// Decodes and resizes the image at `path`. Thread-safe. Throws ImageError("missing image") when
/// the file does not exist, ImageError("image too large") when the file or the size its header
/// declares exceeds `limits` (checked before any pixel is decoded), and ImageError("undecodable
/// image") when it cannot be decoded (zero bytes, truncated, not an image).
///
/// Memory: the file's bytes, plus the decoder's working set, plus one band of decoded rows at a
/// time (the horizontal resampling pass runs band by band; only its output, input height ×
/// output width, is kept whole). Baseline JPEGs decode at a reduced scale where the target
/// allows and non-interlaced PNGs row by row; formats that need their whole frame (interlaced
/// PNG, GIF, WebP, a progressive JPEG's coefficients) hold it: a few bytes per pixel, bounded by
/// limits.max_pixels (bench_image_memory measures each).
Image load_image(const std::string& path, const ImagePreset& preset,
                 const ImageLimits& limits = {});

/// The centre height × width crop of `image` (at least that large), offsets
/// round((size - crop) / 2) with halves to even, as torchvision's CenterCrop on a PIL image.
Image center_crop(const Image& image, int height, int width);
/// That offset for one axis.
int center_crop_offset(int size, int crop);

/// PIL-compatible bilinear (triangle, antialiased) resize of interleaved RGB `hwc` to channel-first
/// out_height × out_width.
Image resize_bilinear(const uint8_t* hwc, int height, int width, int out_height, int out_width);
/// The same with `stride` bytes between input rows.
Image resize_rows(const uint8_t* hwc, size_t stride, int height, int width, int out_height,
                  int out_width);

/// Writes an RGB image (channel-first) as JPEG (quality 90) or PNG, chosen by the extension.
void save_image(const std::string& path, const Image& image);

}  // namespace mmaux::data
