#pragma once
// Raw-data-set readers, one file per data set. Each turns the files as their authors distribute
// them into a RawDataset (posts + rows it had to skip, with reasons); the shared pipeline
// (mmaux/data/preprocess.h) does the rest. Readers only read text files; they never decode images.
#include <string>
#include <vector>

#include "mmaux/config/data_options.h"
#include "mmaux/data/preprocess.h"

namespace mmaux::preprocessing {

/// Generic csv layout: columns post_id, text, label, [split], [relation], [decided_by], [image];
/// the image path is the `image` column or options.image_template with {post_id} substituted.
/// Classes are the distinct non-empty labels, sorted by name.
data::RawDataset read_csv_dataset(const PreprocessOptions& options);
/// TIR (Vempala & Preoţiuc-Pietro 2019): textimage-data.csv, images T{tweet_id}.jpg.
data::RawDataset read_tir(const PreprocessOptions& options);
/// MVSA-Single: labelResultAll.txt + data/{id}.txt (Latin-1, first line) + data/{id}.jpg.
data::RawDataset read_mvsa(const PreprocessOptions& options);
/// MHP: Data/{Train,Validation,Test}/dog_whistle_{train,dev,test}.csv + Data/Images/.
data::RawDataset read_mhp(const PreprocessOptions& options);
/// MSD: text/{train,valid2,test2}.txt (Python list lines) + dataset_image/{id}.jpg.
data::RawDataset read_msd(const PreprocessOptions& options);
/// MICD: data_key_mic.csv (id, domain, year, month, label, split) + texts/{id}.txt +
/// images/{id}_1.jpg.
data::RawDataset read_micd(const PreprocessOptions& options);

/// Dispatches on options.dataset (tir, mvsa, mhp, msd, micd, csv).
data::RawDataset read_raw_dataset(const PreprocessOptions& options);

/// Parses one Python list literal of strings and integers: ['id', "it 's", 1]. Returns false on
/// malformed input.
bool parse_python_list(const std::string& line, std::vector<std::string>& items);

/// Throws DataError when `raw`/`file` is missing, naming the data set's expected layout.
void require_file(const std::string& raw, const std::string& file, const std::string& dataset,
                  const std::string& layout);

/// The lower-cased header names of a CSV record.
std::vector<std::string> lower_header(const std::vector<std::string>& fields);
/// Index of `name` in `header`, or -1.
int column_index(const std::vector<std::string>& header, const std::string& name);

}  // namespace mmaux::preprocessing
