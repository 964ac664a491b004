#include "predict/output.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "mmaux/core/csv.h"

namespace mmaux::predict {
namespace {

std::string number(double v) { return fmt::format("{:.9g}", v); }

}  // namespace

std::string decided_by(double drop_text, double drop_image, double threshold) {
  const bool text = drop_text >= threshold, image = drop_image >= threshold;
  if (text && image) return "both";
  if (text) return "text";
  if (image) return "image";
  return "neither";
}

std::string header(const OutputFormat& f) {
  if (f.kind != "csv") return "";
  std::vector<std::string> h = {"post_id", "status", "reason", "predicted"};
  for (const auto& c : f.classes) h.push_back("prob_" + c);
  h.push_back("itm_match");
  if (f.explain) {
    for (const char* e : {"p_no_image", "p_no_text", "drop_image", "drop_text", "decided_by"})
      h.push_back(e);
  }
  return csv_row(h);
}

std::string scored_row(const OutputFormat& f, const PreparedPost& post, const Scores& s) {
  const double p = s.probs[size_t(s.predicted)];
  const double drop_image = p - s.p_no_image, drop_text = p - s.p_no_text;
  const std::string& label = f.classes[size_t(s.predicted)];
  if (f.kind == "csv") {
    std::vector<std::string> row = {post.input.post_id, "ok", "", label};
    for (double v : s.probs) row.push_back(number(v));
    row.push_back(number(s.itm_match));
    if (f.explain) {
      for (double v : {s.p_no_image, s.p_no_text, drop_image, drop_text}) row.push_back(number(v));
      row.push_back(decided_by(drop_text, drop_image, f.threshold));
    }
    return csv_row(row);
  }
  nlohmann::ordered_json j = {
      {"post_id", post.input.post_id}, {"status", "ok"}, {"reason", ""}, {"predicted", label}};
  nlohmann::ordered_json probs = nlohmann::ordered_json::object();
  for (size_t c = 0; c < f.classes.size(); ++c) probs[f.classes[c]] = s.probs[c];
  j["probs"] = probs;
  j["itm_match"] = s.itm_match;
  if (f.explain) {
    j["explain"] = {{"p_no_image", s.p_no_image},
                    {"p_no_text", s.p_no_text},
                    {"drop_image", drop_image},
                    {"drop_text", drop_text},
                    {"decided_by", decided_by(drop_text, drop_image, f.threshold)}};
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string failed_row(const OutputFormat& f, const PreparedPost& post) {
  if (f.kind == "csv") {
    std::vector<std::string> row = {post.input.post_id, "error", post.reason, ""};
    const size_t empty = f.classes.size() + 1 + (f.explain ? 5 : 0);
    row.insert(row.end(), empty, "");
    return csv_row(row);
  }
  nlohmann::ordered_json j = {{"post_id", post.input.post_id},
                              {"status", "error"},
                              {"reason", post.reason},
                              {"source", post.input.source}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace mmaux::predict
