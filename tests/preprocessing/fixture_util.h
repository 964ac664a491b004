#pragma once
// Helpers for raw-layout fixtures: tiny real images and a tiny model directory.
#include <filesystem>
#include <string>

#include "mmaux/config/data_options.h"

namespace mmaux::testing {

/// Writes a real 24x16 JPEG or PNG (by extension) of one colour.
void write_image(const std::filesystem::path& path, int shade = 128);
/// A WordPiece model directory: image_size 16, max_text_length 12, a vocab of a few words plus
/// every ASCII letter as a word and a continuation.
std::string write_tiny_model(const std::filesystem::path& dir);
/// Options for running the pipeline on `raw` into `out`.
PreprocessOptions preprocess_options(const std::string& dataset, const std::filesystem::path& raw,
                                     const std::filesystem::path& out,
                                     const std::filesystem::path& model);

}  // namespace mmaux::testing
