#pragma once
#include <cstdint>
#include <string>

namespace mmaux {

/// Options of `mmaux predict`.
struct PredictOptions {
  std::string checkpoint;              ///< a model directory written by mmaux train (RUN/best)
  std::string input;                   ///< posts file (csv or JSON Lines); "-" = standard input
  std::string out;                     ///< output file; "" or "-" = standard output
  std::string input_format = "auto";   ///< auto (by extension; stdin: jsonl) | csv | jsonl
  std::string output_format = "auto";  ///< auto (by --out's extension, else the input's) | ...
  std::string image_root;              ///< relative image paths start here ("" = input's dir)
  std::string image_template = "images/{post_id}.jpg";  ///< csv without an image column
  int batch_size = 32;                                  ///< posts per forward pass
  int threads = 0;                 ///< intra-op threads per rank (0 = cores / ranks on the node)
  int decode_threads = 0;          ///< image/text decoding threads per rank (0 = as threads)
  bool explain = false;            ///< also score with a neutral image and with empty text
  double explain_threshold = 0.1;  ///< drop in probability that counts as "decided by"
  int64_t max_image_pixels = 89478485;          ///< as mmaux preprocess; 0 = none
  int64_t max_image_bytes = int64_t(64) << 20;  ///< as mmaux preprocess; 0 = none
};

/// Options of `mmaux export`.
struct ExportOptions {
  std::string checkpoint;  ///< a model directory written by mmaux train (RUN/best)
  std::string out;         ///< output directory (created; must not exist or be empty)
};

}  // namespace mmaux
