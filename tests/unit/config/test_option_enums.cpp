// The name tables of the option enums: every value has one name, names parse back, and a typo is
// a ConfigError that names the option, the value and the allowed names.
#include <gtest/gtest.h>

#include <set>

#include "mmaux/config/data_options.h"
#include "mmaux/config/dist_options.h"
#include "mmaux/config/launch_options.h"
#include "mmaux/config/log_options.h"
#include "mmaux/config/loss_options.h"
#include "mmaux/config/model_options.h"
#include "mmaux/config/train_options.h"
#include "support/test_support.h"

namespace mmaux {
namespace {

std::string config_error(const std::function<void()>& f) {
  return testing::message_of<ConfigError>(f);
}

// Every entry's name parses to its value and back; names are unique.
template <typename E>
void expect_round_trip(size_t expected_size) {
  std::vector<std::string> names = enum_names<E>();
  EXPECT_EQ(names.size(), expected_size);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  for (const auto& name : names) {
    E value = parse_option<E>("x", name);
    EXPECT_EQ(name_of(value), name);
  }
}

TEST(OptionEnums, EveryTableRoundTrips) {
  expect_round_trip<ItmMode>(2);
  expect_round_trip<ClassWeights>(2);
  expect_round_trip<CeNorm>(2);
  expect_round_trip<ModelKind>(5);
  expect_round_trip<ModelPreset>(6);
  expect_round_trip<MmbtMode>(3);
  expect_round_trip<VitInterpolation>(3);
  expect_round_trip<Schedule>(3);
  expect_round_trip<SelectMetric>(4);
  expect_round_trip<DeviceChoice>(3);
  expect_round_trip<CommBackend>(4);
  expect_round_trip<LogLevel>(4);
  expect_round_trip<DatasetKind>(6);
  expect_round_trip<ReportMetric>(2);
  expect_round_trip<FigureFormat>(3);
}

TEST(OptionEnums, NamesAreTheDocumentedWords) {
  EXPECT_STREQ(name_of(ItmMode::kHard), "hard");
  EXPECT_STREQ(name_of(ModelKind::kBerVitAtt), "ber-vit-att");
  EXPECT_STREQ(name_of(ModelPreset::kViltB32), "vilt-b32");
  EXPECT_STREQ(name_of(VitInterpolation::kScaleFactor), "scale-factor");
  EXPECT_STREQ(name_of(SelectMetric::kWeightedF1), "weighted_f1");
  EXPECT_EQ(parse_option<CeNorm>("loss.ce-norm", "weights"), CeNorm::kWeights);
  EXPECT_EQ(parse_option<Schedule>("train.schedule", "cosine"), Schedule::kCosine);
  EXPECT_FALSE(enum_from_name<ItmMode>("Hard").has_value());  // names are case-sensitive
}

TEST(OptionEnums, ATypoNamesTheOptionAndTheAllowedValues) {
  EXPECT_EQ(config_error([] { parse_option<ItmMode>("loss.itm-mode", "hardd"); }),
            "option 'loss.itm-mode': invalid value 'hardd'; expected one of random, hard (did "
            "you mean 'hard'?)");
  EXPECT_EQ(config_error([] { parse_option<Schedule>("train.schedule", "cosin"); }),
            "option 'train.schedule': invalid value 'cosin'; expected one of constant, linear, "
            "cosine (did you mean 'cosine'?)");
  // No near name: no suggestion.
  EXPECT_EQ(config_error([] { parse_option<CommBackend>("dist.backend", "carrier-pigeon"); }),
            "option 'dist.backend': invalid value 'carrier-pigeon'; expected one of auto, local, "
            "mpi, nccl");
  EXPECT_EQ(config_error([] { parse_option<ModelKind>("model.name", ""); }),
            "option 'model.name': invalid value ''; expected one of ber-vit-concat, ber-vit-att, "
            "vilt, mmbt, lxmert");
}

TEST(OptionEnums, ResumeIsNoneAutoOrAPath) {
  EXPECT_EQ(ResumeFrom::parse("none").mode, ResumeFrom::Mode::kNone);
  EXPECT_EQ(ResumeFrom::parse("auto").mode, ResumeFrom::Mode::kAuto);
  ResumeFrom p = ResumeFrom::parse("runs/a/checkpoints/step-00000008");
  EXPECT_EQ(p.mode, ResumeFrom::Mode::kPath);
  EXPECT_EQ(p.path, "runs/a/checkpoints/step-00000008");
  for (const char* text : {"none", "auto", "x/y"}) EXPECT_EQ(ResumeFrom::parse(text).text(), text);
  EXPECT_NE(config_error([] { ResumeFrom::parse(""); }).find("train.resume"), std::string::npos);
}

}  // namespace
}  // namespace mmaux
