#pragma once
/// The synthetic data set of METHOD.md §5 (`mmaux synth`).
///
/// Each post has an object of a colour drawn on a light background, an optional image mood drawn
/// as a stripe band across the bottom quarter (horizontal stripes = negative, vertical = neutral,
/// checkerboard = positive), and a short templated text with an optional mood word. The label
/// (negative / neutral / positive) is decided by:
///   - text:  the text's mood word; the image has no stripe band;
///   - image: the stripe band; the text has no mood word;
///   - both:  text mood t and image mood i are both present and label = (t + i) mod 3 (the image
///            shifts the text's mood, as irony does), so neither modality alone determines it.
/// The image-text relation (describes: the text names the object and its colour; loose: the
/// object only; unrelated: another topic) is recorded per post. Label noise replaces a label by a
/// uniformly drawn class. Everything is a pure function of (seed, post index).

#include <cstdint>
#include <string>
#include <vector>

#include "mmaux/config/data_options.h"
#include "mmaux/data/image.h"
#include "mmaux/data/regions.h"

namespace mmaux::data {

inline const std::vector<std::string>& synth_class_names() {
  static const std::vector<std::string> k{"negative", "neutral", "positive"};
  return k;
}
inline const std::vector<std::string>& synth_relation_names() {
  static const std::vector<std::string> k{"describes", "loose", "unrelated"};
  return k;
}

struct SynthPost {
  std::string post_id;
  std::string text;
  int label = 0;
  std::string split;  ///< train / validation / test (80 / 10 / 10)
  int relation = 0;
  std::string decided_by;  ///< text / image / both
  int text_mood = -1;      ///< -1 = no mood word
  int image_mood = -1;     ///< -1 = no stripe band
  int object = 0;
  int colour = 0;
  std::string image_file;  ///< relative: images/<post_id>.jpg or .png
};

/// Draws the posts (no files written). Throws ConfigError for malformed mixes.
std::vector<SynthPost> generate_synth_posts(const SynthOptions& options);

/// Draws the options.unlabeled unlabeled posts (no files written): post k is the generator's post
/// 2^40 + k (text, image and hidden label drawn exactly as for labelled posts, indices no labelled
/// set reaches), named "u000000", "u000001", ...
std::vector<SynthPost> generate_unlabeled_synth_posts(const SynthOptions& options);

/// Draws post `post`'s image at width × height.
Image draw_synth_image(const SynthPost& post, int width, int height, uint64_t seed);

/// Post `post`'s synthetic region features of `dim` dimensions for its image drawn at width ×
/// height: 8 .. 36 regions in a shuffled order, each a fixed sparse non-negative prototype plus
/// small noise: one region of the object (shape prototype + colour prototype, its box the
/// object's box in the image), three regions tiling the bottom-quarter band (the image mood's
/// prototype, or a plain-band one when the image has no mood) and background regions with random
/// boxes above the band. So the regions carry exactly the image's label signal.
RegionFeatures synth_regions(const SynthPost& post, int width, int height, uint64_t seed, int dim);

/// The image mood read back from region features (-1 when no region is close to a mood
/// prototype): the rule an image-only oracle on regions can apply.
int synth_region_mood(const RegionFeatures& regions, int dim);

/// Writes OUT/posts.csv, OUT/images/* and OUT/model/{vocab.txt, tokenizer_config.json,
/// config.json}; with options.region_feature_dim > 0 also OUT/regions.h5 (synth_regions of every
/// post, the layout of data/regions.h) and visual_feat_dim in config.json. With
/// options.unlabeled > 0 also OUT/unlabeled/{posts.csv (post_id,text,image: no label column),
/// images/*, regions.h5}; the labelled files do not depend on it, the vocabulary covers both.
/// Returns the labelled posts.
std::vector<SynthPost> write_synth_dataset(const SynthOptions& options);

/// The mood word of a text (-1 when none): the rule a text-only oracle can apply.
int synth_text_mood(const std::string& text);
/// The stripe band's mood read back from decoded pixels (-1 when plain): the rule an image-only
/// oracle can apply.
int synth_image_mood(const Image& image);

}  // namespace mmaux::data
