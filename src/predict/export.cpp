// `mmaux export`: a trained model for other tools (Hugging Face directories + the preprocessing).
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/data/input_spec.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/predict/predict.h"

namespace fs = std::filesystem;

namespace mmaux::predict {

void run_export(const ExportOptions& o, const ModelOptions& model) {
  MMAUX_CHECK_CONFIG(!o.out.empty(), "export: give --out DIR");
  MMAUX_CHECK_CONFIG(!fs::exists(o.out) || fs::is_empty(o.out),
                     "export: '{}' exists and is not empty; give a new directory", o.out);
  const data::InputSpec spec = data::read_input_spec(o.checkpoint);
  const std::string tokenizer = (fs::path(o.checkpoint) / data::kTokenizerSubdir).string();
  auto m = model::make_model(model, static_cast<int>(spec.class_names.size()));

  // Everything goes to OUT.tmp first: a failed export leaves no half-written OUT.
  const fs::path tmp = fs::path(o.out).string() + ".tmp";
  fs::remove_all(tmp);
  model::save_pretrained(*m, tmp.string());
  data::write_input_spec(tmp.string(), spec, tokenizer);
  // The run's configuration, so that `mmaux predict --checkpoint OUT` rebuilds the same model.
  write_file_atomic((tmp / "config.ini").string(),
                    read_whole_file((fs::path(o.checkpoint) / "config.ini").string()));
  // Hugging Face's AutoTokenizer reads the tokenizer next to the text model's config.json.
  fs::path tokenizer_home = tmp;
  if (m->kind() != ModelKind::kVilt) {
    model::export_towers(*m, tmp.string());
    tokenizer_home = tmp / "text";
  }
  for (const auto& entry : fs::directory_iterator(tokenizer)) {
    write_file_atomic((tokenizer_home / entry.path().filename()).string(),
                      read_whole_file(entry.path().string()));
  }
  if (fs::exists(o.out)) fs::remove(o.out);
  fs::rename(tmp, o.out);
  log_info("export", "wrote '{}' ({}: {}, predict_config.json)", o.out, name_of(m->kind()),
           m->kind() == ModelKind::kVilt ? "a ViltModel directory with its tokenizer"
                                         : "text/ and image/ Hugging Face towers, the tokenizer "
                                           "in text/");
}

}  // namespace mmaux::predict
