#include <gtest/gtest.h>
#include <vips/vips.h>

#include <filesystem>

#include "mmaux/data/image.h"
#include "support/test_support.h"

namespace mmaux::data {
using mmaux::testing::TempDir;

namespace {

/// A width x height image: left half red, right half blue (channel-first).
Image two_halves(int width, int height) {
  Image img;
  img.width = width;
  img.height = height;
  img.pixels.assign(size_t(3) * width * height, 0);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      size_t k = size_t(y) * width + x;
      (x < width / 2 ? img.pixels[k] : img.pixels[2 * size_t(width) * height + k]) = 255;
    }
  }
  return img;
}

/// Saves `bands`-band uchar pixels (interleaved) with libvips under `path`, applying `convert`.
void save_raw(const std::string& path, std::vector<uint8_t> hwc, int w, int h, int bands,
              VipsInterpretation interp, int orientation = 0) {
  init_image_library();
  VipsImage* img =
      vips_image_new_from_memory_copy(hwc.data(), hwc.size(), w, h, bands, VIPS_FORMAT_UCHAR);
  ASSERT_NE(img, nullptr);
  img->Type = interp;
  if (orientation > 0) vips_image_set_int(img, VIPS_META_ORIENTATION, orientation);
  VipsImage* out = img;
  if (interp == VIPS_INTERPRETATION_CMYK) {
    ASSERT_EQ(vips_jpegsave(img, path.c_str(), nullptr), 0) << vips_error_buffer();
  } else {
    ASSERT_EQ(vips_image_write_to_file(out, path.c_str(), nullptr), 0) << vips_error_buffer();
  }
  g_object_unref(img);
}

uint8_t at(const Image& img, int c, int y, int x) {
  return img.pixels[(size_t(c) * img.height + y) * img.width + x];
}

}  // namespace

TEST(Image, TargetSizes) {
  auto fixed = ImagePreset::parse("fixed:224");
  EXPECT_EQ(target_size(450, 600, fixed), std::make_pair(224, 224));
  auto vilt = ImagePreset::parse("vilt");
  EXPECT_EQ(target_size(450, 600, vilt), std::make_pair(384, 512));
  EXPECT_EQ(target_size(600, 450, vilt), std::make_pair(512, 384));
  EXPECT_EQ(target_size(100, 1000, vilt), std::make_pair(64, 640));  // longer side capped
  EXPECT_EQ(target_size(384, 384, vilt), std::make_pair(384, 384));
}

TEST(Image, JpegAndPngResizeToThePreset) {
  TempDir dir;
  for (const char* name : {"a.jpg", "a.png"}) {
    auto path = (dir / name).string();
    save_image(path, two_halves(120, 90));
    auto img = load_image(path, ImagePreset::parse("fixed:32"));
    ASSERT_EQ(img.height, 32);
    ASSERT_EQ(img.width, 32);
    EXPECT_GT(at(img, 0, 16, 4), 200) << name;  // red on the left
    EXPECT_LT(at(img, 2, 16, 4), 50) << name;
    EXPECT_GT(at(img, 2, 16, 28), 200) << name;  // blue on the right
  }
  auto v = load_image((dir / "a.png").string(), ImagePreset::parse("vilt:64:96:32"));
  EXPECT_EQ(v.height, 64);
  EXPECT_EQ(v.width, 64);  // 90x120 -> 64x85.3 -> multiples of 32
}

TEST(Image, GreyAlphaCmykGifWebpAndExifBecomeUprightRgb) {
  TempDir dir;
  const int w = 40, h = 20;
  std::vector<uint8_t> grey(w * h, 128);
  save_raw((dir / "grey.png").string(), grey, w, h, 1, VIPS_INTERPRETATION_B_W);
  auto g = load_image((dir / "grey.png").string(), ImagePreset::parse("fixed:8"));
  EXPECT_NEAR(at(g, 0, 4, 4), 128, 3);
  EXPECT_NEAR(at(g, 2, 4, 4), 128, 3);

  std::vector<uint8_t> rgba(w * h * 4, 0);  // fully transparent black → white
  save_raw((dir / "alpha.png").string(), rgba, w, h, 4, VIPS_INTERPRETATION_sRGB);
  auto a = load_image((dir / "alpha.png").string(), ImagePreset::parse("fixed:8"));
  EXPECT_GT(at(a, 1, 4, 4), 250);

  std::vector<uint8_t> cmyk(w * h * 4, 0);  // C = 255: cyan
  for (int i = 0; i < w * h; ++i) cmyk[4 * i] = 255;
  save_raw((dir / "cmyk.jpg").string(), cmyk, w, h, 4, VIPS_INTERPRETATION_CMYK);
  auto c = load_image((dir / "cmyk.jpg").string(), ImagePreset::parse("fixed:8"));
  EXPECT_LT(at(c, 0, 4, 4), 100);  // little red
  EXPECT_GT(at(c, 2, 4, 4), 150);  // much blue

  std::vector<uint8_t> rgb(w * h * 3, 0);  // left half white, right half black
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w / 2; ++x) {
      for (int k = 0; k < 3; ++k) rgb[3 * (y * w + x) + k] = 255;
    }
  }
  for (const char* name : {"f.gif", "f.webp"}) {
    save_raw((dir / name).string(), rgb, w, h, 3, VIPS_INTERPRETATION_sRGB);
    auto f = load_image((dir / name).string(), ImagePreset::parse("fixed:8"));
    EXPECT_GT(at(f, 0, 4, 1), 200) << name;
    EXPECT_LT(at(f, 0, 4, 6), 60) << name;
  }
  // Orientation 6 (rotate 90° clockwise to display): the white left half ends up on top, and a
  // 40x20 file is a 20x40 (portrait) picture.
  save_raw((dir / "rot.jpg").string(), rgb, w, h, 3, VIPS_INTERPRETATION_sRGB, 6);
  auto r = load_image((dir / "rot.jpg").string(), ImagePreset::parse("fixed:8"));
  EXPECT_GT(at(r, 0, 1, 4), 200);
  EXPECT_LT(at(r, 0, 6, 4), 60);
  auto rv = load_image((dir / "rot.jpg").string(), ImagePreset::parse("vilt:32:64:32"));
  EXPECT_EQ(rv.height, 64);
  EXPECT_EQ(rv.width, 32);
}

TEST(Image, BrokenFilesAreUndecodableAndMissingFilesMissing) {
  TempDir dir;
  auto preset = ImagePreset::parse("fixed:16");
  auto reason = [&](const std::string& name) {
    try {
      load_image((dir / name).string(), preset);
    } catch (const ImageError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      return e.reason();
    }
    return std::string("decoded");
  };
  save_image((dir / "full.jpg").string(), two_halves(64, 64));
  auto bytes = mmaux::testing::read_file(dir / "full.jpg");
  mmaux::testing::write_file(dir / "truncated.jpg", bytes.substr(0, bytes.size() / 2));
  mmaux::testing::write_file(dir / "empty.png", "");
  mmaux::testing::write_file(dir / "text.jpg", "this is not a picture\n");
  EXPECT_EQ(reason("full.jpg"), "decoded");
  EXPECT_EQ(reason("truncated.jpg"), "undecodable image");
  EXPECT_EQ(reason("empty.png"), "undecodable image");
  EXPECT_EQ(reason("text.jpg"), "undecodable image");
  EXPECT_EQ(reason("absent.jpg"), "missing image");
}

}  // namespace mmaux::data
