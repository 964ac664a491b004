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

TEST(Image, ResnetPresetResizesTheShorterSideThenCropsTheCentre) {
  auto r = ImagePreset::parse("resnet");
  // torchvision Resize(256): the longer side int(256 * long / short), truncated.
  EXPECT_EQ(target_size(450, 600, r), std::make_pair(256, 341));
  EXPECT_EQ(target_size(600, 450, r), std::make_pair(341, 256));
  EXPECT_EQ(target_size(100, 100, r), std::make_pair(256, 256));
  EXPECT_EQ(target_size(3, 1000, r), std::make_pair(256, 85333));
  // CenterCrop offsets: Python's round((size - crop) / 2), halves to even.
  EXPECT_EQ(center_crop_offset(224, 224), 0);
  EXPECT_EQ(center_crop_offset(256, 224), 16);
  EXPECT_EQ(center_crop_offset(257, 224), 16);  // 16.5 -> 16
  EXPECT_EQ(center_crop_offset(259, 224), 18);  // 17.5 -> 18
  EXPECT_EQ(center_crop_offset(341, 224), 58);  // 58.5 -> 58
  EXPECT_EQ(center_crop_offset(343, 224), 60);  // 59.5 -> 60
  TempDir dir;
  const auto path = (dir / "wide.png").string();
  save_image(path, two_halves(400, 300));
  Image img = load_image(path, r);
  ASSERT_EQ(img.height, 224);
  ASSERT_EQ(img.width, 224);
  // 300x400 -> 256x341 -> columns 58..281: the red/blue edge (column 170.5) lands at 112.
  EXPECT_GT(at(img, 0, 100, 110), 200);
  EXPECT_LT(at(img, 2, 100, 110), 50);
  EXPECT_GT(at(img, 2, 100, 114), 200);
  // The crop is a plain copy of the resized image's centre.
  Image resized = resize_bilinear(
      [&] {
        std::vector<uint8_t> hwc(size_t(300) * 400 * 3);
        Image src = two_halves(400, 300);
        for (size_t k = 0; k < size_t(300) * 400; ++k)
          for (int c = 0; c < 3; ++c) hwc[3 * k + c] = src.pixels[c * size_t(300) * 400 + k];
        return hwc;
      }()
          .data(),
      300, 400, 256, 341);
  Image crop = center_crop(resized, 224, 224);
  EXPECT_EQ(crop.pixels, img.pixels);
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

// Images of several decoding bands (more than 4 MB of decoded rows): the band-by-band decode
// equals resizing the whole decoded image, upright or EXIF-rotated (a rotation reads the whole
// source for every band).
TEST(Image, LargeImagesDecodeBandByBandExactly) {
  TempDir dir;
  const int w = 1500, h = 1200;
  std::vector<uint8_t> noise(size_t(w) * h * 3);
  uint32_t x = 12345;
  for (auto& v : noise) v = uint8_t((x = x * 1103515245u + 12345u) >> 24);
  save_raw((dir / "big.png").string(), noise, w, h, 3, VIPS_INTERPRETATION_sRGB);
  save_raw((dir / "big-rot.jpg").string(), noise, w, h, 3, VIPS_INTERPRETATION_sRGB, 6);
  for (const char* name : {"big.png", "big-rot.jpg"}) {
    const auto path = (dir / name).string();
    VipsImage* whole = vips_image_new_from_file(path.c_str(), nullptr);
    ASSERT_NE(whole, nullptr) << vips_error_buffer();
    VipsImage* upright = nullptr;
    ASSERT_EQ(vips_autorot(whole, &upright, nullptr), 0) << vips_error_buffer();
    size_t bytes = 0;
    auto* hwc = static_cast<uint8_t*>(vips_image_write_to_memory(upright, &bytes));
    const int uh = vips_image_get_height(upright), uw = vips_image_get_width(upright);
    ASSERT_EQ(bytes, size_t(uh) * uw * 3);
    // No JPEG shrink-on-load at this target (the file is under twice its size).
    Image want = resize_bilinear(hwc, uh, uw, 700, 650);
    g_free(hwc);
    g_object_unref(upright);
    g_object_unref(whole);
    Image got = load_image(path, ImagePreset::parse("fixed:700x650"));
    EXPECT_EQ(got.height, 700);
    EXPECT_TRUE(got.pixels == want.pixels) << name;
  }
}

}  // namespace mmaux::data

namespace mmaux::data {

// Worked by hand from PIL's precompute_coeffs: 4 -> 2 pixels, scale 2, support 2; output 0 has
// weights 0.75, 0.75, 0.25 over inputs 0, 1, 2 (normalised by 1.75).
TEST(Image, BilinearResizeFollowsPil) {
  std::vector<uint8_t> row;
  for (int v : {0, 100, 200, 255}) row.insert(row.end(), {uint8_t(v), uint8_t(v), uint8_t(v)});
  Image out = resize_bilinear(row.data(), 1, 4, 1, 2);
  EXPECT_EQ(out.pixels[0], 71);  // (0*.75 + 100*.75 + 200*.25) / 1.75 = 71.4
  // Output 1: centre 3, inputs 1, 2, 3 with weights 0.25, 0.75, 0.75.
  EXPECT_EQ(out.pixels[1], 209);  // (100*.25 + 200*.75 + 255*.75) / 1.75 = 209.3
  EXPECT_EQ(out.pixels[2], 71);   // channel-first: the green plane starts at index 2
  // Upscaling keeps PIL's support of 1: 2 -> 4 pixels.
  std::vector<uint8_t> two{0, 0, 0, 200, 200, 200};
  Image up = resize_bilinear(two.data(), 1, 2, 1, 4);
  EXPECT_EQ(up.pixels[0], 0);    // centre 0.25: taps 0 (w .75+.25 clipped) -> 0
  EXPECT_EQ(up.pixels[1], 50);   // centre 0.75: 0*.75 + 200*.25
  EXPECT_EQ(up.pixels[2], 150);  // centre 1.25
  EXPECT_EQ(up.pixels[3], 200);
}

}  // namespace mmaux::data
