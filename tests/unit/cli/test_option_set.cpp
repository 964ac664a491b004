#include <gtest/gtest.h>

#include "cli/option_set.h"
#include "mmaux/config/loss_options.h"
#include "support/test_support.h"

namespace mmaux::cli {
namespace {

struct Fixture {
  double lr = 1e-5;
  int epochs = 3;
  bool strict = true;
  ItmMode mode = ItmMode::kRandom;
  std::string out;
  OptionSet set;
  Fixture() {
    set.group("Training")
        .add("train.lr", &lr, "learning rate", in_range(0, 10))
        .add("train.epochs", &epochs, "epochs", int_range(1, 1000))
        .group("Model")
        .add("model.strict", &strict, "strict loading")
        .add("loss.itm-mode", &mode, "mode")
        .add("out", &out, "output directory")
        .bookkeeping();
  }
};

std::string config_error(const std::function<void()>& f) {
  return testing::message_of<ConfigError>(f);
}

TEST(OptionSet, DefaultsStayWithoutArguments) {
  Fixture f;
  parse_options({}, f.set, {});
  EXPECT_DOUBLE_EQ(f.lr, 1e-5);
  EXPECT_EQ(f.epochs, 3);
}

TEST(OptionSet, CommandLineValues) {
  Fixture f;
  parse_options({"--train.lr", "0.5", "--train.epochs=7", "--model.strict", "false", "--out", "d"},
                f.set, {});
  EXPECT_DOUBLE_EQ(f.lr, 0.5);
  EXPECT_EQ(f.epochs, 7);
  EXPECT_FALSE(f.strict);
  EXPECT_EQ(f.out, "d");
}

TEST(OptionSet, BareBooleanFlagMeansTrue) {
  Fixture f;
  f.strict = false;
  parse_options({"--model.strict"}, f.set, {});
  EXPECT_TRUE(f.strict);
}

TEST(OptionSet, FilePrecedence) {
  testing::TempDir dir;
  testing::write_file(dir / "a.ini", "out = from-a\n[train]\nlr = 0.1\nepochs = 5\n");
  testing::write_file(dir / "b.ini", "[train]\nlr = 0.2\n");
  Fixture f;
  parse_options({"--config", (dir / "a.ini").string(), "--config", (dir / "b.ini").string(),
                 "--train.epochs", "9"},
                f.set, {});
  EXPECT_DOUBLE_EQ(f.lr, 0.2);  // later file wins over earlier
  EXPECT_EQ(f.epochs, 9);       // command line wins over files
  EXPECT_EQ(f.out, "from-a");   // sectionless keys
}

TEST(OptionSet, UnknownOptionSuggestsClosest) {
  Fixture f;
  std::string msg = config_error([&] { parse_options({"--train.lrr", "1"}, f.set, {}); });
  EXPECT_EQ(msg, "unknown option 'train.lrr'; did you mean 'train.lr'?");
}

TEST(OptionSet, UnknownOptionInFileNamesFile) {
  testing::TempDir dir;
  testing::write_file(dir / "c.ini", "[train]\nepoch = 2\n");
  Fixture f;
  std::string msg = config_error([&] {
    parse_options({"--config", (dir / "c.ini").string()}, f.set, {});
  });
  EXPECT_NE(msg.find("unknown option 'train.epoch'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("c.ini"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'train.epochs'"), std::string::npos) << msg;
}

TEST(OptionSet, MissingConfigFileNamesPath) {
  Fixture f;
  std::string msg = config_error([&] { parse_options({"--config", "/no/such.ini"}, f.set, {}); });
  EXPECT_NE(msg.find("'/no/such.ini'"), std::string::npos) << msg;
}

TEST(OptionSet, TypeErrorsNameOptionValueAndType) {
  Fixture f;
  EXPECT_EQ(config_error([&] {
              parse_options({"--train.lr", "fast"}, f.set, {});
            }),
            "option 'train.lr': invalid value 'fast'; expected a finite number");
  EXPECT_EQ(config_error([&] {
              parse_options({"--train.epochs", "2.5"}, f.set, {});
            }),
            "option 'train.epochs': invalid value '2.5'; expected an integer");
  EXPECT_EQ(config_error([&] { parse_options({"--model.strict=maybe"}, f.set, {}); }),
            "option 'model.strict': invalid value 'maybe'; expected true or false");
}

TEST(OptionSet, RangeAndChoiceErrors) {
  Fixture f;
  EXPECT_EQ(config_error([&] {
              parse_options({"--train.epochs", "0"}, f.set, {});
            }),
            "option 'train.epochs': value 0 is out of range [1, 1000]");
  Fixture g;
  EXPECT_EQ(config_error([&] {
              parse_options({"--loss.itm-mode", "hardd"}, g.set, {});
            }),
            "option 'loss.itm-mode': invalid value 'hardd'; expected one of random, hard (did you "
            "mean 'hard'?)");
}

TEST(OptionSet, EnumOptionsParseToTheirValue) {
  Fixture f;
  parse_options({"--loss.itm-mode", "hard"}, f.set, {});
  EXPECT_EQ(f.mode, ItmMode::kHard);
  EXPECT_EQ(f.set.find("loss.itm-mode")->print(), "hard");
  EXPECT_EQ(f.set.find("loss.itm-mode")->type_text, "random|hard");
}

TEST(OptionSet, ATypoInAConfigFileIsAnErrorEvenWhenTheCommandLineIsFine) {
  testing::TempDir dir;
  testing::write_file(dir / "c.ini", "[loss]\nitm-mode = hrad\n");
  Fixture f;
  std::string msg = config_error([&] {
    parse_options({"--config", (dir / "c.ini").string()}, f.set, {});
  });
  EXPECT_NE(msg.find("option 'loss.itm-mode': invalid value 'hrad'"), std::string::npos) << msg;
}

TEST(OptionSet, RequiredEnumWithoutDefault) {
  std::optional<CeNorm> norm;
  OptionSet set;
  set.group("G").add("norm", &norm, "normaliser");
  EXPECT_EQ(config_error([&] { parse_options({}, set, {}); }),
            "option 'norm': is required; expected one of batch, weights");
  parse_options({"--norm", "weights"}, set, {});
  EXPECT_EQ(norm, CeNorm::kWeights);
}

TEST(OptionSet, BookkeepingMarksTheOptionDeclaredLast) {
  Fixture f;
  EXPECT_TRUE(f.set.find("train.lr")->trajectory);
  EXPECT_TRUE(f.set.find("loss.itm-mode")->trajectory);
  EXPECT_FALSE(f.set.find("out")->trajectory);
}

TEST(OptionSet, NoAbbreviations) {
  Fixture f;
  EXPECT_NE(config_error([&] {
              parse_options({"--train.epo", "2"}, f.set, {});
            }),
            "<no exception>");
}

TEST(OptionSet, PrintedConfigReproducesTheRun) {
  testing::TempDir dir;
  Fixture f;
  parse_options({"--train.lr", "0.000123", "--out", "x y", "--model.strict", "false",
                 "--loss.itm-mode", "hard"},
                f.set, {});
  std::string printed = format_config(f.set);
  testing::write_file(dir / "p.ini", printed);
  Fixture g;
  parse_options({"--config", (dir / "p.ini").string()}, g.set, {});
  EXPECT_DOUBLE_EQ(g.lr, 0.000123);
  EXPECT_EQ(g.out, "x y");
  EXPECT_FALSE(g.strict);
  EXPECT_EQ(g.mode, ItmMode::kHard);
  EXPECT_EQ(format_config(g.set), printed);
}

TEST(OptionSet, Positional) {
  Fixture f;
  parse_options({"some/dir"}, f.set, {"out"});
  EXPECT_EQ(f.out, "some/dir");
  EXPECT_THROW(parse_options({"a", "b"}, f.set, {"out"}), ConfigError);
}

TEST(OptionSet, HelpListsDefaults) {
  Fixture f;
  std::string help = format_help(f.set);
  EXPECT_NE(help.find("--train.lr <a number>  (default: 1e-05)"), std::string::npos) << help;
}

}  // namespace
}  // namespace mmaux::cli
