#include "predict/posts.h"

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mmaux/core/error.h"
#include "mmaux/core/strings.h"
#include "mmaux/data/preprocess.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::predict {

std::string input_format(const std::string& path, const std::string& format) {
  if (format != "auto") return format;
  if (path == "-") return "jsonl";
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".csv") return "csv";
  MMAUX_CHECK_CONFIG(ext == ".jsonl" || ext == ".json" || ext == ".ndjson",
                     "--input '{}': cannot tell the format from the extension '{}'; give "
                     "--input-format csv or jsonl",
                     path, ext);
  return "jsonl";
}

PostSource::PostSource(const std::string& path, const std::string& format,
                       std::string image_template)
    : name_(path == "-" ? "<stdin>" : fs::path(path).filename().string()),
      format_(input_format(path, format)),
      image_template_(std::move(image_template)) {
  if (path == "-") {
    in_ = &std::cin;
  } else {
    file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
    MMAUX_CHECK_DATA(file_->good(), "cannot read the posts file '{}'", path);
    in_ = file_.get();
  }
  if (format_ != "csv") return;
  std::stringstream ss;
  ss << in_->rdbuf();
  records_ = parse_csv(ss.str());
  MMAUX_CHECK_DATA(!records_.empty(), "'{}' is empty; expected a header row post_id,text,image",
                   path);
  auto header = preprocessing::lower_header(records_[0].fields);
  id_col_ = preprocessing::column_index(header, "post_id");
  text_col_ = preprocessing::column_index(header, "text");
  image_col_ = preprocessing::column_index(header, "image");
  MMAUX_CHECK_DATA(id_col_ >= 0 && text_col_ >= 0,
                   "'{}' must have the columns post_id and text (and image, else --image-template "
                   "'{}' names the file); found: {}",
                   path, image_template_, fmt::join(header, ", "));
}

InputPost PostSource::from_record(const CsvRecord& r) const {
  InputPost p;
  p.source = fmt::format("{}:{}", name_, r.line);
  const size_t columns = records_[0].fields.size();
  if (r.fields.size() != columns) {
    p.post_id = r.fields.empty() ? "" : r.fields[0];
    p.error = fmt::format("{}: {} fields, the header has {}", data::skip_reason::kMalformedRow,
                          r.fields.size(), columns);
    return p;
  }
  p.post_id = r.fields[size_t(id_col_)];
  p.text = r.fields[size_t(text_col_)];
  if (image_col_ >= 0 && !r.fields[size_t(image_col_)].empty()) {
    p.image = r.fields[size_t(image_col_)];
  } else {
    p.image = image_template_;
    auto at = p.image.find("{post_id}");
    if (at != std::string::npos) p.image.replace(at, 9, p.post_id);
  }
  return p;
}

InputPost PostSource::from_json_line(const std::string& line, int64_t number) const {
  InputPost p;
  p.source = fmt::format("{}:{}", name_, number);
  auto bad = [&](const std::string& why) {
    p.error = fmt::format("{}: {}", data::skip_reason::kMalformedRow, why);
    return p;
  };
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return bad("not a JSON object {\"post_id\", \"text\", \"image\"}");
  }
  if (!j.contains("post_id") || !(j["post_id"].is_string() || j["post_id"].is_number_integer())) {
    return bad("\"post_id\" is missing or not a string or integer");
  }
  p.post_id = j["post_id"].is_string() ? j["post_id"].get<std::string>()
                                       : std::to_string(j["post_id"].get<int64_t>());
  for (const char* key : {"text", "image"}) {
    if (!j.contains(key) || !j[key].is_string()) {
      return bad(fmt::format("\"{}\" is missing or not a string", key));
    }
  }
  p.text = j["text"].get<std::string>();
  p.image = j["image"].get<std::string>();
  return p;
}

size_t PostSource::read(size_t n, std::vector<InputPost>& out) {
  size_t added = 0;
  if (format_ == "csv") {
    for (; added < n && next_record_ < records_.size(); ++added)
      out.push_back(from_record(records_[next_record_++]));
    return added;
  }
  std::string line;
  while (added < n && std::getline(*in_, line)) {
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;  // as the csv reader: a blank line is no row
    out.push_back(from_json_line(line, line_));
    ++added;
  }
  return added;
}

}  // namespace mmaux::predict
