// The option table decides, once per option, whether its value changes what a run computes; the
// resume check and the aggregation grouping both derive from that flag (they used to keep two
// lists by hand, which disagreed).
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/command.h"
#include "mmaux/launch/aggregate.h"
#include "mmaux/train/results.h"
#include "mmaux/train/train_state.h"
#include "support/test_support.h"

namespace mmaux::cli {
namespace {

namespace fs = std::filesystem;

// The options of `mmaux train` after parsing `args`, as the trainer receives them.
OptionValues train_options(const std::vector<std::string>& args) {
  Command train = make_train_command();
  OptionSet set;
  train.declare(set);
  parse_options(args, set, {});
  return option_values(set);
}

// results.json of a run with `options`, as the trainer writes it.
void write_results(const fs::path& dir, const OptionValues& options, double macro_f1) {
  train::RunResults r;
  r.config = option_texts(options);
  r.trajectory_keys = trajectory_keys(options);
  r.dataset = "synth";
  r.data_fingerprint = "f1ngerpr1nt";
  r.model = "ber-vit-concat";
  r.loss_setting = "ce";
  r.seed = std::stoul(options.at("train.seed").text);
  r.test = train::SplitScores{};
  r.test->metrics.macro_f1 = macro_f1;
  r.test->metrics.weighted_f1 = macro_f1;
  testing::write_file(dir / "results.json", train::to_json(r).dump(2));
}

TEST(OptionTable, BookkeepingOptionsAreDeclaredSo) {
  OptionValues v = train_options({});
  for (const char* k :
       {"train.out", "train.resume", "train.log-every", "train.keep-last", "train.checkpoint-every",
        "data.dir", "data.prefetch", "data.loader-threads", "dist.threads", "dist.timeout-s",
        "dist.bucket-mb", "dist.divergence-check-every", "log.level", "log.all-ranks",
        "train.save-initial"})
    EXPECT_FALSE(v.at(k).trajectory) << k;
  for (const char* k :
       {"train.seed", "train.lr", "train.epochs", "train.max-steps", "loss.itm-mode", "model.name",
        "model.itc-pooling", "data.batch-size", "train.device", "dist.backend", "train.dtype"})

    EXPECT_TRUE(v.at(k).trajectory) << k;
}

TEST(OptionTable, ItcPoolingParsesAndNamesItselfWhenMistyped) {
  EXPECT_EQ(train_options({}).at("model.itc-pooling").text, "pooler");
  EXPECT_EQ(train_options({"--model.itc-pooling", "mean"}).at("model.itc-pooling").text, "mean");
  std::string msg = testing::message_of<ConfigError>([] {
    train_options({"--model.itc-pooling", "meen"});
  });
  EXPECT_NE(msg.find("model.itc-pooling"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'mean'"), std::string::npos) << msg;
}

TEST(OptionTable, ResumeCheckFollowsTheFlag) {
  OptionValues first = train_options({"--data.dir", "/a/data", "--train.lr", "0.001"});
  std::map<std::string, std::string> stored = option_texts(first);
  // Where the data and the run are, bucket sizes and checkpoint cadence may change.
  OptionValues moved = train_options({"--data.dir", "/b/data", "--train.lr", "0.001",
                                      "--dist.bucket-mb", "5", "--train.keep-last", "9",
                                      "--train.out", "elsewhere", "--train.resume", "auto"});
  EXPECT_TRUE(train::resume_conflicts(moved, stored).empty());
  EXPECT_EQ(train::config_hash(moved), train::config_hash(first));
  // A trajectory option may not.
  OptionValues other = train_options({"--data.dir", "/a/data", "--train.lr", "0.002"});
  EXPECT_EQ(train::resume_conflicts(other, stored),
            (std::vector<std::string>{"train.lr (0.001 -> 0.002)"}));
  EXPECT_NE(train::config_hash(other), train::config_hash(first));
  // A checkpoint of an older build lacks the options added since: at their defaults they match.
  stored.erase("model.itc-pooling");
  EXPECT_TRUE(train::resume_conflicts(first, stored).empty());
  OptionValues mean = train_options(
      {"--data.dir", "/a/data", "--train.lr", "0.001", "--model.itc-pooling", "mean"});
  EXPECT_EQ(train::resume_conflicts(mean, stored),
            (std::vector<std::string>{"model.itc-pooling (<absent> -> mean)"}));
}

TEST(OptionTable, AggregationGroupsByTheSameFlag) {
  testing::TempDir tmp;
  const fs::path runs = tmp / "runs";
  // Seeds 1 and 2 differ in bookkeeping only (data and run directories, buckets, checkpoints):
  // one group of two seeds. A different learning rate is another group.
  write_results(runs / "a1", train_options({"--data.dir", "/a/data", "--train.seed", "1"}), 0.5);
  write_results(runs / "a2",
                train_options({"--data.dir", "/b/data", "--train.seed", "2", "--dist.bucket-mb",
                               "5", "--train.keep-last", "9", "--train.out", "runs/a2"}),
                0.7);
  write_results(runs / "b1",
                train_options({"--data.dir", "/a/data", "--train.seed", "1", "--train.lr", "1"}),
                0.3);
  launch::Aggregate a = launch::collect_runs(runs);
  ASSERT_EQ(a.groups.size(), 2u);
  size_t sizes[] = {a.groups[0].done.size(), a.groups[1].done.size()};
  EXPECT_EQ(std::max(sizes[0], sizes[1]), 2u);
  EXPECT_EQ(std::min(sizes[0], sizes[1]), 1u);
  for (const auto& g : a.groups) {
    EXPECT_EQ(g.key.count("data.dir"), 0u);
    EXPECT_EQ(g.key.count("train.seed"), 0u);
    EXPECT_EQ(g.key.at("data"), "f1ngerpr1nt");
    if (g.done.size() == 2) {
      EXPECT_NEAR(g.macro_f1.mean, 0.6, 1e-12);
    }
  }
}

TEST(OptionTable, MarkingAnOptionBookkeepingMovesBothUsers) {
  // What a follow-up that marks train.max-steps as bookkeeping changes: one flag, both users.
  long max_steps = 0;
  double lr = 1e-5;
  unsigned seed = 1;
  for (bool bookkeeping : {false, true}) {
    OptionSet set;
    set.group("Training").add("train.lr", &lr, "lr").add("train.seed", &seed, "seed");
    set.add("train.max-steps", &max_steps, "steps");
    if (bookkeeping) set.bookkeeping();
    parse_options({"--train.max-steps", "10"}, set, {});
    std::map<std::string, std::string> stored = option_texts(option_values(set));
    parse_options({"--train.max-steps", "20"}, set, {});
    OptionValues longer = option_values(set);
    EXPECT_EQ(train::resume_conflicts(longer, stored).empty(), bookkeeping);

    testing::TempDir tmp;
    write_results(tmp / "runs" / "a", option_values(set), 0.5);
    set.find("train.max-steps")->assign("10");
    set.find("train.seed")->assign("2");
    write_results(tmp / "runs" / "b", option_values(set), 0.5);
    EXPECT_EQ(launch::collect_runs(tmp / "runs").groups.size(), bookkeeping ? 1u : 2u);
  }
}

}  // namespace
}  // namespace mmaux::cli
