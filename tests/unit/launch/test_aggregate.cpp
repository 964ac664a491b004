#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/launch/aggregate.h"
#include "support/test_support.h"

namespace mmaux::launch {
namespace {

namespace fs = std::filesystem;
using mmaux::testing::read_file;
using mmaux::testing::TempDir;
using mmaux::testing::write_file;

// results.json as the trainer writes it (the fields aggregation reads, and a few more).
std::string results(const std::string& dataset, const std::string& model, const std::string& loss,
                    int seed, double weighted, double macro, const std::string& itc,
                    const std::string& itm) {
  return fmt::format(
      R"({{"mmaux_version": "0.1.0", "config": {{"data.dir": "data/{0}", "model.name": "{1}",
  "loss.itc": "{6}", "loss.itm": "{7}", "train.seed": "{3}", "train.out": "runs/x{3}",
  "dist.threads": "1", "train.lr": "1e-05"}},
 "dataset": "{0}", "model": "{1}", "preset": "tiny", "loss_setting": "{2}", "itm_mode": "random",
 "seed": {3}, "world_size": 2, "best_epoch": 1, "validation": {{"macro_f1": 0.5}},
 "test": {{"macro_f1": {5}, "weighted_f1": {4}, "accuracy": 0.7}}, "timings": {{}},
 "peak_memory_mb": 10.0}})",
      dataset, model, loss, seed, weighted, macro, itc, itm);
}

// A run directory as `mmaux sweep` writes it (run.json), with or without results.
void sweep_run(const fs::path& dir, const std::string& loss, int seed, const std::string& itc) {
  write_file(dir / "run.json",
             fmt::format(R"({{"sweep": "s", "run_id": "x", "seed": "{0}", "loss_setting": "{1}",
  "configs": [], "ranks": 2, "options": {{"data.dir": "data/tir", "model.name": "vilt",
  "loss.itc": "{2}", "loss.itm": "0", "train.seed": "{0}"}}}})",
                         seed, loss, itc));
}

const Group& find(const Aggregate& a, const std::string& dataset, const std::string& loss) {
  for (const auto& g : a.groups)
    if (g.dataset == dataset && g.loss_setting == loss) return g;
  throw std::runtime_error("no group " + dataset + "/" + loss);
}

TEST(Stats, SampleStd) {
  Summary s = summarize({0.5, 0.6, 0.7});
  EXPECT_EQ(s.n, 3);
  EXPECT_NEAR(s.mean, 0.6, 1e-12);
  EXPECT_NEAR(s.std, 0.1, 1e-12);  // n - 1 in the denominator (0.0816 with n)
  EXPECT_TRUE(std::isnan(summarize({0.5}).std));
  EXPECT_EQ(summarize({}).n, 0);
}

TEST(Stats, PairedTTestAgainstClosedForm) {
  // d = 0.02, 0.01, 0.05: mean 0.02667, sd 0.02082, t = 2.2188 with 2 degrees of freedom, whose
  // two-sided p-value has the closed form 1 - |t| / sqrt(t^2 + 2).
  PairedTest t = paired_t_test({0.60, 0.62, 0.65}, {0.58, 0.61, 0.60});
  EXPECT_EQ(t.n, 3);
  EXPECT_NEAR(t.mean, 0.08 / 3, 1e-12);
  EXPECT_NEAR(t.std, std::sqrt(0.00086666666666667 / 2), 1e-9);
  double expected_t = t.mean / (t.std / std::sqrt(3.0));
  EXPECT_NEAR(t.t, expected_t, 1e-9);
  EXPECT_NEAR(t.t, 2.2188, 1e-4);
  EXPECT_NEAR(t.p, 1 - expected_t / std::sqrt(expected_t * expected_t + 2), 1e-9);
  // Sign does not change the two-sided p.
  EXPECT_NEAR(paired_t_test({0.58, 0.61, 0.60}, {0.60, 0.62, 0.65}).p, t.p, 1e-12);
  EXPECT_TRUE(std::isnan(paired_t_test({0.6}, {0.5}).p));            // one pair
  EXPECT_TRUE(std::isnan(paired_t_test({0.6, 0.7}, {0.5, 0.6}).p));  // no spread
}

// Hand-written runs with known means: mvsa (results.json only) CE and +ITC, 3 seeds each;
// tir (sweep directories) CE with 2 results and a failed seed 3, +ITC with 2 results and an
// unreadable results.json for seed 3.
class AggregateRuns : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path r = tmp_.path() / "runs";
    double ce[] = {0.60, 0.62, 0.64}, itc[] = {0.63, 0.64, 0.68};
    for (int s = 1; s <= 3; ++s) {
      write_file(r / fmt::format("mvsa-ce-{}", s) / "results.json",
                 results("mvsa", "vilt", "ce", s, ce[s - 1] + 0.1, ce[s - 1], "0", "0"));
      write_file(r / fmt::format("mvsa-itc-{}", s) / "results.json",
                 results("mvsa", "vilt", "itc", s, itc[s - 1] + 0.1, itc[s - 1], "0.1", "0"));
      sweep_run(r / fmt::format("tir-ce-{}", s), "ce", s, "0");
      sweep_run(r / fmt::format("tir-itc-{}", s), "itc", s, "0.1");
    }
    for (int s = 1; s <= 2; ++s) {
      write_file(r / fmt::format("tir-ce-{}", s) / "results.json",
                 results("tir", "vilt", "ce", s, 0.5, 0.40 + 0.02 * s, "0", "0"));
      write_file(r / fmt::format("tir-itc-{}", s) / "results.json",
                 results("tir", "vilt", "itc", s, 0.5, 0.41 + 0.02 * s, "0.1", "0"));
    }
    write_file(r / "tir-ce-3" / "train.log", "error: out of memory\n");
    write_file(r / "tir-ce-3" / "exit_code", "1\n");
    write_file(r / "tir-itc-3" / "results.json",
               results("tir", "vilt", "itc", 3, 0.5, 1.5, "0.1", "0"));
    // Not runs: the aggregate output and the sweep's own files are skipped.
    write_file(r / "aggregate" / "aggregate.md", "old\n");
    write_file(r / ".sweep" / "x" / "tasks.txt", "\n");
    runs_ = r;
  }
  TempDir tmp_;
  fs::path runs_;
};

TEST_F(AggregateRuns, MeansStdsAndPairedDifferences) {
  Aggregate a = collect_runs(runs_);
  ASSERT_EQ(a.groups.size(), 4u);
  EXPECT_EQ(a.groups[0].dataset, "mvsa");
  EXPECT_EQ(a.groups[0].loss_setting, "ce");  // CE first, then +ITC
  EXPECT_EQ(a.groups[1].loss_setting, "itc");
  const Group& mce = find(a, "mvsa", "ce");
  EXPECT_EQ(mce.model, "vilt");
  EXPECT_EQ(mce.done.size(), 3u);
  EXPECT_NEAR(mce.macro_f1.mean, 0.62, 1e-12);
  EXPECT_NEAR(mce.macro_f1.std, 0.02, 1e-12);
  EXPECT_NEAR(mce.weighted_f1.mean, 0.72, 1e-12);
  const Group& mitc = find(a, "mvsa", "itc");
  EXPECT_NEAR(mitc.macro_f1.mean, 0.65, 1e-12);
  ASSERT_TRUE(mitc.has_baseline);
  // Paired by seed: differences 0.03, 0.02, 0.04.
  EXPECT_EQ(mitc.delta_macro_f1.n, 3);
  EXPECT_NEAR(mitc.delta_macro_f1.mean, 0.03, 1e-12);
  EXPECT_NEAR(mitc.delta_macro_f1.std, 0.01, 1e-12);
  EXPECT_NEAR(mitc.delta_macro_f1.t, 0.03 / (0.01 / std::sqrt(3.0)), 1e-6);
  EXPECT_TRUE(mitc.delta_macro_f1.p > 0 && mitc.delta_macro_f1.p < 0.05);
}

TEST_F(AggregateRuns, MissingSeedsAreShownNotAveragedAway) {
  Aggregate a = collect_runs(runs_);
  const Group& tce = find(a, "tir", "ce");
  EXPECT_EQ(tce.done.size(), 2u);
  EXPECT_NEAR(tce.macro_f1.mean, 0.43, 1e-12);
  ASSERT_EQ(tce.missing.size(), 1u);
  EXPECT_EQ(tce.missing[0].seed, "3");
  EXPECT_EQ(tce.missing[0].state, "failed");
  EXPECT_EQ(tce.missing[0].detail, "exit 1");
  EXPECT_EQ(tce.missing[0].log, runs_ / "tir-ce-3" / "train.log");
  const Group& titc = find(a, "tir", "itc");
  ASSERT_EQ(titc.missing.size(), 1u);
  EXPECT_EQ(titc.missing[0].state, "unreadable");
  EXPECT_NE(titc.missing[0].detail.find("test.macro_f1 = 1.5 is not a fraction"),
            std::string::npos);
  EXPECT_EQ(titc.delta_macro_f1.n, 2);  // seed 3 is in neither pair
  EXPECT_NEAR(titc.delta_macro_f1.mean, 0.01, 1e-12);

  std::string table = format_terminal(a);
  EXPECT_NE(table.find("2/3"), std::string::npos) << table;
  EXPECT_NE(table.find("s3 failed"), std::string::npos) << table;
  EXPECT_NE(table.find("missing: tir / vilt / CE seed 3: failed (exit 1); log " +
                       (runs_ / "tir-ce-3" / "train.log").string()),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("62.00 ± 2.00"), std::string::npos) << table;
  EXPECT_NE(table.find("+3.00 ± 1.00 (n=3, p="), std::string::npos) << table;
}

TEST_F(AggregateRuns, FilesInEveryFormat) {
  Aggregate a = collect_runs(runs_);
  fs::path out = tmp_.path() / "out";
  std::vector<fs::path> files = write_aggregate(a, out, ReportMetric::kMacroF1, FigureFormat::kSvg);
  std::string md = read_file(out / "aggregate.md");
  EXPECT_NE(md.find("| mvsa | vilt | +ITC | 3/3 | 75.00 ± 2.65 | 65.00 ± 2.65 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("## Missing runs"), std::string::npos);
  std::string csv = read_file(out / "aggregate.csv");
  EXPECT_NE(csv.find("mvsa,vilt,ce,,3,0,0.720000,0.020000,0.620000,0.020000,"), std::string::npos)
      << csv;
  EXPECT_NE(csv.find("tir,vilt,ce,,2,1,"), std::string::npos) << csv;
  std::string tex = read_file(out / "aggregate.tex");
  EXPECT_NE(tex.find("Model & Loss & mvsa & tir \\\\"), std::string::npos) << tex;
  EXPECT_NE(tex.find("vilt & CE & 62.00$_{\\pm 2.00}$ & 43.00$_{\\pm 1.41}$$^{2/3}$ \\\\"),
            std::string::npos)
      << tex;
  EXPECT_NE(tex.find(" & +ITC & 65.00$_{\\pm 2.65}$ & 44.00$_{\\pm 1.41}$$^{2/3}$ \\\\"),
            std::string::npos)
      << tex;
  std::string dat = read_file(out / "figure.dat");
  EXPECT_NE(dat.find("\"mvsa/vilt\" 62.0000 2.0000 65.0000 2.6458 - - - -"), std::string::npos)
      << dat;
  if (fs::exists(out / "figure.svg")) {
    EXPECT_NE(read_file(out / "figure.svg").find("<svg"), std::string::npos);
  }
  EXPECT_GE(files.size(), 5u);
}

TEST(Aggregate, VariantsAreToldApart) {
  TempDir tmp;
  for (int s = 1; s <= 2; ++s)
    for (const char* lr : {"1e-05", "2e-05"}) {
      std::string text = results("mvsa", "vilt", "ce", s, 0.5, 0.5, "0", "0");
      text.replace(text.find("\"train.lr\": \"1e-05\""), 19,
                   fmt::format("\"train.lr\": \"{}\"", lr));
      write_file(tmp.path() / fmt::format("lr{}-s{}", lr, s) / "results.json", text);
    }
  Aggregate a = collect_runs(tmp.path());
  ASSERT_EQ(a.groups.size(), 2u);
  EXPECT_EQ(a.groups[0].variant, "train.lr=1e-05");
  EXPECT_EQ(a.groups[1].variant, "train.lr=2e-05");
  EXPECT_EQ(a.groups[0].done.size(), 2u);  // dist.threads and train.out do not split groups
}

TEST(Aggregate, RelationBreakdown) {
  // Seeds 1-2 score 0.6 / 0.8 on "describes"; "unrelated" is absent from seed 2's test split
  // (count 0) and must not count as a zero.
  TempDir tmp;
  for (int s = 1; s <= 2; ++s) {
    std::string text = results("synth", "ber-vit-concat", "ce", s, 0.5, 0.5, "0", "0");
    std::string rel = fmt::format(
        R"("test_by_relation": {{"describes": {{"count": 10, "macro_f1": {}}},
        "unrelated": {{"count": {}, "macro_f1": {}}}}}, )",
        s == 1 ? 0.6 : 0.8, s == 1 ? 5 : 0, s == 1 ? 0.3 : 0.0);
    text.insert(text.find("\"timings\""), rel);
    write_file(tmp.path() / fmt::format("s{}", s) / "results.json", text);
  }
  Aggregate a = collect_runs(tmp.path());
  ASSERT_EQ(a.groups.size(), 1u);
  const Group& g = a.groups[0];
  EXPECT_EQ(g.relation_macro_f1.at("describes").n, 2);
  EXPECT_NEAR(g.relation_macro_f1.at("describes").mean, 0.7, 1e-12);
  EXPECT_EQ(g.relation_macro_f1.at("unrelated").n, 1);
  EXPECT_NEAR(g.relation_macro_f1.at("unrelated").mean, 0.3, 1e-12);
  std::string table = format_relations(a);
  EXPECT_NE(table.find("describes"), std::string::npos) << table;
  EXPECT_NE(table.find("70.00"), std::string::npos) << table;
}

TEST(Aggregate, RunsWithTrajectoryKeysGroupByThemAndByTheirData) {
  // results.json naming its trajectory options: other options (train.out, data.dir) do not split
  // groups; other data (its fingerprint) does.
  TempDir tmp;
  auto run = [&](const std::string& name, int seed, const std::string& dir,
                 const std::string& fingerprint) {
    write_file(tmp / "runs" / name / "results.json",
               fmt::format(R"({{"config": {{"train.lr": "1e-05", "train.seed": "{0}",
  "train.out": "runs/{1}", "data.dir": "{2}"}}, "trajectory_keys": ["train.lr", "train.seed"],
  "data_fingerprint": "{3}", "dataset": "mvsa", "model": "vilt", "loss_setting": "ce",
  "seed": {0}, "test": {{"macro_f1": 0.5, "weighted_f1": 0.6}}}})",
                           seed, name, dir, fingerprint));
  };
  run("a1", 1, "/x/mvsa", "f1");
  run("a2", 2, "/y/mvsa", "f1");
  run("b1", 1, "/x/mvsa", "f2");
  Aggregate a = collect_runs(tmp / "runs");
  ASSERT_EQ(a.groups.size(), 2u);
  EXPECT_EQ(a.groups[0].done.size() + a.groups[1].done.size(), 3u);
  for (const auto& g : a.groups) {
    EXPECT_EQ(g.key.size(), 2u);  // train.lr and the data
    EXPECT_EQ(g.done.size(), g.key.at("data") == "f1" ? 2u : 1u);
    EXPECT_EQ(g.variant, "data=" + g.key.at("data"));
  }
}

// `mmaux pretrain` runs (results.json "kind": "pretrain", or a pretrain sweep's run.json before
// it finished) have no classification scores: listed apart, never a group or a missing seed.
TEST(Aggregate, PretrainingRunsAreLeftOutOfTheTables) {
  TempDir tmp;
  const fs::path runs = tmp.path() / "runs";
  write_file(runs / "pre-s1" / "results.json",
             R"({"kind": "pretrain", "loss_setting": "pretrain", "dataset": "mvsa", "seed": 1,
                 "model": "ber-vit-concat", "config": {"train.seed": "1"}, "steps": 10,
                 "towers": "runs/pre-s1/towers", "final": null, "start": null})");
  write_file(runs / "pre-s2" / "run.json",
             R"({"sweep": "p", "run_id": "pre-s2", "command": "pretrain", "seed": "2",
                 "loss_setting": "pretrain", "configs": [], "ranks": 1,
                 "options": {"train.seed": "2", "pretrain.mlm": "1"}})");
  for (int seed : {1, 2})
    write_file(runs / fmt::format("ce-{}", seed) / "results.json",
               results("mvsa", "vilt", "ce", seed, 0.6, 0.5, "0", "0"));
  Aggregate a = collect_runs(runs);
  ASSERT_EQ(a.groups.size(), 1u);
  EXPECT_EQ(a.groups[0].done.size(), 2u);
  EXPECT_TRUE(a.groups[0].missing.empty());
  EXPECT_EQ(a.pretraining_runs, (std::vector<fs::path>{runs / "pre-s1", runs / "pre-s2"}));
  // Only pretraining runs: nothing to tabulate, and the error says so.
  fs::remove_all(runs / "ce-1");
  fs::remove_all(runs / "ce-2");
  try {
    collect_runs(runs);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("holds only pretraining runs (2"), std::string::npos)
        << e.what();
  }
}

TEST(Aggregate, EmptyDirectoryIsAnError) {
  TempDir tmp;
  EXPECT_THROW(collect_runs(tmp.path()), DataError);
  EXPECT_THROW(collect_runs(tmp.path() / "nope"), DataError);
}

}  // namespace
}  // namespace mmaux::launch
