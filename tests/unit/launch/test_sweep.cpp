#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/launch/sweep.h"
#include "support/test_support.h"

namespace mmaux::launch {
namespace {

namespace fs = std::filesystem;
using mmaux::testing::read_file;
using mmaux::testing::TempDir;
using mmaux::testing::write_file;

const char* kSpec = R"(# a sweep
[sweep]
name = paper
ranks = 2
config = configs/a.ini configs/b.ini
loss-weight = 0.2
[axes]
data.dir = data/mvsa, data/tir
loss = ce itc+itm   ; two settings
train.seed = 1 2 3
[options]
model.preset = tiny
train.epochs = 2
[slurm]
partition = gpu
max-parallel = 2
)";

std::string error_of(const std::string& text) {
  try {
    parse_sweep_spec(text, "s.ini");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(SweepSpec, ParsesEverySection) {
  SweepSpec s = parse_sweep_spec(kSpec, "dir/s.ini");
  EXPECT_EQ(s.name, "paper");
  EXPECT_EQ(s.ranks, 2);
  EXPECT_EQ(s.configs, (std::vector<std::string>{"configs/a.ini", "configs/b.ini"}));
  EXPECT_DOUBLE_EQ(s.loss_weight, 0.2);
  ASSERT_EQ(s.axes.size(), 3u);
  EXPECT_EQ(s.axes[0].first, "data.dir");
  EXPECT_EQ(s.axes[0].second, (std::vector<std::string>{"data/mvsa", "data/tir"}));
  EXPECT_EQ(s.axes[1].second, (std::vector<std::string>{"ce", "itc+itm"}));
  EXPECT_EQ(s.options.at("train.epochs"), "2");
  EXPECT_EQ(s.slurm.partition, "gpu");
  EXPECT_EQ(s.slurm.max_parallel, 2);
  EXPECT_EQ(parse_sweep_spec("[axes]\ntrain.seed = 1\n", "x/my-sweep.ini").name, "my-sweep");
}

TEST(SweepSpec, ErrorsNameTheLineAndTheFix) {
  EXPECT_NE(error_of("[sweep]\nnmae = x\n")
                .find("s.ini:2: unknown key 'nmae' in [sweep] (did "
                      "you mean 'name'?)"),
            std::string::npos)
      << error_of("[sweep]\nnmae = x\n");
  EXPECT_NE(error_of("[axis]\n").find("unknown key 'axis'"), std::string::npos);
  EXPECT_NE(error_of("[axes]\nloss = ce itx\n").find("loss setting 'itx'"), std::string::npos);
  EXPECT_NE(error_of("[axes]\nloss = ce\n[options]\nloss.itc = 0.1\n").find("sets loss.itc"),
            std::string::npos);
  EXPECT_NE(error_of("[options]\ntrain.out = x\n").find("train.out is set by the sweep"),
            std::string::npos);
  EXPECT_NE(error_of("[axes]\ntrain.seed = 1\n[options]\ntrain.seed = 2\n").find("both an axis"),
            std::string::npos);
  EXPECT_NE(error_of("[sweep]\nranks = two\n").find("ranks = 'two' is not an integer"),
            std::string::npos);
  EXPECT_NE(error_of("model.name = x\n").find("before any [section]"), std::string::npos);
  EXPECT_NE(error_of("[slurm]\nnode = tpu\n").find("expected cpu or gpu"), std::string::npos);
  EXPECT_NE(error_of("[options]\na = 1\na = 2\n").find("set twice"), std::string::npos);
}

TEST(SweepSpec, OptionNamesAreChecked) {
  SweepSpec s = parse_sweep_spec("[axes]\nloss = ce itc\n[options]\ntrain.lrr = 1\n", "s.ini");
  try {
    check_option_names(s, {"train.lr", "train.seed", "loss.itc"});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'train.lrr' is not an option of mmaux train (did you "
                                         "mean 'train.lr'?)"),
              std::string::npos)
        << e.what();
  }
}

TEST(SweepExpansion, EveryCombinationWithReadableStableIds) {
  SweepSpec s = parse_sweep_spec(kSpec, "s.ini");
  std::vector<RunPlan> runs = expand_sweep(s, "/r");
  ASSERT_EQ(runs.size(), 12u);
  // Last axis fastest: data set, then loss, then seed.
  EXPECT_EQ(runs[0].options.at("data.dir"), "data/mvsa");
  EXPECT_EQ(runs[0].seed, "1");
  EXPECT_EQ(runs[1].seed, "2");
  EXPECT_EQ(runs[3].loss_setting, "itc+itm");
  EXPECT_EQ(runs[6].options.at("data.dir"), "data/tir");
  EXPECT_EQ(runs[0].options.at("loss.itc"), "0");
  EXPECT_EQ(runs[3].options.at("loss.itc"), "0.2");
  EXPECT_EQ(runs[3].options.at("loss.itm"), "0.2");
  EXPECT_EQ(runs[0].options.at("model.preset"), "tiny");
  EXPECT_EQ(runs[0].configs.size(), 2u);
  EXPECT_EQ(runs[0].id.substr(0, 11), "mvsa-ce-s1-");
  EXPECT_EQ(runs[4].id.substr(0, 16), "mvsa-itc+itm-s2-");
  EXPECT_EQ(runs[0].id.size(), 11u + 8u);
  EXPECT_EQ(runs[0].dir, std::filesystem::path("/r") / runs[0].id);
  std::set<std::string> ids;
  for (const auto& r : runs) ids.insert(r.id);
  EXPECT_EQ(ids.size(), 12u);
  // Stable: the same spec gives the same ids; another shared option gives other hashes.
  EXPECT_EQ(expand_sweep(parse_sweep_spec(kSpec, "s.ini"), "/r")[5].id, runs[5].id);
  SweepSpec s2 =
      parse_sweep_spec(std::string(kSpec).replace(std::string(kSpec).find("train.epochs = 2"), 16,
                                                  "train.epochs = 3"),
                       "s.ini");
  std::vector<RunPlan> runs2 = expand_sweep(s2, "/r");
  EXPECT_EQ(runs2[0].id.substr(0, 11), runs[0].id.substr(0, 11));
  EXPECT_NE(runs2[0].id, runs[0].id);
}

TEST(SweepExpansion, LinkedAxisChangesOptionsTogether) {
  SweepSpec s = parse_sweep_spec(
      "[axes]\nmodel.name+data.dir = ber-vit-concat:data/mvsa-bert vilt:data/mvsa-vilt\n"
      "train.seed = 1 2\n",
      "s.ini");
  std::vector<RunPlan> runs = expand_sweep(s, "r");
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].options.at("model.name"), "ber-vit-concat");
  EXPECT_EQ(runs[0].options.at("data.dir"), "data/mvsa-bert");
  EXPECT_EQ(runs[2].options.at("model.name"), "vilt");
  EXPECT_EQ(runs[2].options.at("data.dir"), "data/mvsa-vilt");
  EXPECT_EQ(runs[2].id.substr(0, 8), "vilt-s1-");
  EXPECT_NE(error_of("[axes]\nmodel.name+data.dir = vilt\n").find("has 1 part(s); give 2"),
            std::string::npos);
  EXPECT_NE(error_of("[axes]\nmodel.name+data.dir = a:b\ndata.dir = c\n").find("on two axes"),
            std::string::npos);
  try {
    check_option_names(parse_sweep_spec("[axes]\nmodel.name+data.dri = a:b\n", "s"),
                       {"model.name", "data.dir"});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'data.dri'"), std::string::npos) << e.what();
  }
}

TEST(SweepExpansion, NoAxesIsOneRunWithSeedOne) {
  std::vector<RunPlan> runs =
      expand_sweep(parse_sweep_spec("[options]\nmodel.preset = tiny\n", "s.ini"), "r");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id.substr(0, 4), "run-");
  EXPECT_EQ(runs[0].seed, "1");
  EXPECT_EQ(runs[0].loss_setting, "ce");
}

TEST(SweepExpansion, RepeatedValueIsAnError) {
  SweepSpec s = parse_sweep_spec("[axes]\ntrain.seed = 1 1\n", "s.ini");
  EXPECT_THROW(expand_sweep(s, "r"), ConfigError);
}

TEST(RunStatus, FromTheFilesOfTheRunDirectory) {
  TempDir tmp;
  RunPlan run;
  run.dir = tmp.path() / "r";
  EXPECT_EQ(run_status(run).state, RunState::kPending);
  write_file(run.dir / "train.log", "started\n");
  EXPECT_EQ(run_status(run).state, RunState::kFailed);
  EXPECT_EQ(run_status(run).exit_code, -1);
  write_file(run.dir / "exit_code", "75\n");
  EXPECT_EQ(run_status(run).state, RunState::kInterrupted);
  write_file(run.dir / "exit_code", "1\n");
  EXPECT_EQ(run_status(run).state, RunState::kFailed);
  EXPECT_EQ(run_status(run).exit_code, 1);
  write_file(run.dir / "slurm_job", "12_3\n");
  EXPECT_EQ(run_status(run, {"12_3"}).state, RunState::kQueued);
  EXPECT_EQ(run_status(run, {"12_4"}).state, RunState::kFailed);
  write_file(run.dir / "results.json", "{}");
  EXPECT_EQ(run_status(run, {"12_3"}).state, RunState::kDone);
}

TEST(RunDir, CommandScriptAndPlan) {
  TempDir tmp;
  SweepSpec s = parse_sweep_spec("[axes]\nloss = itm\n[options]\ndata.dir = it's here\n", "s.ini");
  RunPlan run = expand_sweep(s, tmp.path())[0];
  LaunchTools tools{"/opt/mmaux/bin/mmaux", "/opt/mmaux/bin/mmaux-launch"};
  std::vector<std::string> cmd = trainer_command(s, run, tools);
  ASSERT_GE(cmd.size(), 6u);
  EXPECT_EQ(cmd[0], "/opt/mmaux/bin/mmaux");
  EXPECT_EQ(cmd[1], "train");
  EXPECT_EQ(cmd[2], "--train.out");
  EXPECT_EQ(cmd[4], "--train.resume");
  EXPECT_EQ(cmd[5], "auto");
  prepare_run_dir(s, run, 2, tools, "/work dir");
  std::string script = read_file(run.dir / "command.sh");
  EXPECT_NE(script.find("cd '/work dir'\n"), std::string::npos) << script;
  EXPECT_NE(script.find("exec /opt/mmaux/bin/mmaux-launch -n 2 --log " +
                        (run.dir / "train.log").string()),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("--data.dir 'it'\\''s here'"), std::string::npos) << script;
  EXPECT_NE(script.find("--loss.itm 0.1"), std::string::npos) << script;
  std::string plan = read_file(run.dir / "run.json");
  EXPECT_NE(plan.find("\"loss_setting\": \"itm\""), std::string::npos) << plan;
}

TEST(RunDir, PretrainSweepRunsMmauxPretrain) {
  TempDir tmp;
  SweepSpec s = parse_sweep_spec(
      "[sweep]\ncommand = pretrain\n[axes]\npretrain.mlm = 0 1\ntrain.seed = 1 2\n", "s.ini");
  EXPECT_EQ(s.command, "pretrain");
  std::vector<RunPlan> runs = expand_sweep(s, tmp.path());
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[3].options.at("pretrain.mlm"), "1");
  EXPECT_EQ(runs[3].options.count("loss.itc"), 0u);  // no loss axis: nothing of fine-tuning's
  EXPECT_EQ(runs[3].loss_setting, "pretrain");
  LaunchTools tools{"/opt/mmaux/bin/mmaux", "/opt/mmaux/bin/mmaux-launch"};
  std::vector<std::string> cmd = trainer_command(s, runs[3], tools);
  ASSERT_GE(cmd.size(), 6u);
  EXPECT_EQ(cmd[1], "pretrain");
  EXPECT_EQ(cmd[3], runs[3].dir.string());
  prepare_run_dir(s, runs[3], 2, tools, "/w");
  EXPECT_NE(read_file(runs[3].dir / "command.sh").find("/opt/mmaux/bin/mmaux pretrain --train.out"),
            std::string::npos);
  EXPECT_NE(read_file(runs[3].dir / "run.json").find("\"command\": \"pretrain\""),
            std::string::npos);
  // The same options as a train sweep give other run ids (the two may share a runs directory).
  SweepSpec t = parse_sweep_spec("[axes]\npretrain.mlm = 0 1\ntrain.seed = 1 2\n", "s.ini");
  EXPECT_NE(expand_sweep(t, tmp.path())[3].id, runs[3].id);
  // The default command is train; others, and the loss axis in a pretrain sweep, are refused.
  EXPECT_EQ(parse_sweep_spec("[axes]\ntrain.seed = 1\n", "s.ini").command, "train");
  EXPECT_NE(error_of("[sweep]\ncommand = finetune\n")
                .find("s.ini:2: command = 'finetune'; "
                      "expected train"),
            std::string::npos);
  EXPECT_NE(error_of("[sweep]\ncommand = pretrain\n[axes]\nloss = ce itc\n")
                .find("pretrain.itc, pretrain.itm and pretrain.mlm"),
            std::string::npos);
  // Option names are checked against the command's own options.
  try {
    check_option_names(
        parse_sweep_spec("[sweep]\ncommand = pretrain\n[options]\nloss.itc = 1\n", "s.ini"),
        {"pretrain.itc", "train.seed"});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'loss.itc' is not an option of mmaux pretrain"),
              std::string::npos)
        << e.what();
  }
}

TEST(BatchScript, CpuTemplateHasPreemptionAndRequeue) {
  SweepSpec s = parse_sweep_spec(kSpec, "s.ini");
  std::string b = render_batch_script(s, 2, 5, "/r/.sweep/t/tasks.txt", "/r/.sweep/t", "/w");
  for (const char* line :
       {"#SBATCH --array=1-5%2\n", "#SBATCH --ntasks=2\n", "#SBATCH --signal=B:USR1@300\n",
        "#SBATCH --requeue\n", "#SBATCH --open-mode=append\n", "#SBATCH --partition=gpu\n",
        "#SBATCH --output=/r/.sweep/t/%A_%a.out\n", "tasks=/r/.sweep/t/tasks.txt\n",
        "scontrol requeue \"${SLURM_JOB_ID}\"", "trap 'forward USR1' USR1"})
    EXPECT_NE(b.find(line), std::string::npos) << line << "\n" << b;
  EXPECT_EQ(b.find("{{"), std::string::npos);
}

TEST(BatchScript, GpuTemplateOneRankPerGpu) {
  SweepSpec s = parse_sweep_spec("[slurm]\nnode = gpu\ngpus-per-node = 4\n", "s.ini");
  std::string b = render_batch_script(s, 8, 1, "t", "l", "/w");
  EXPECT_NE(b.find("#SBATCH --nodes=2\n"), std::string::npos) << b;
  EXPECT_NE(b.find("#SBATCH --ntasks-per-node=4\n"), std::string::npos) << b;
  EXPECT_NE(b.find("#SBATCH --gpus-per-node=4\n"), std::string::npos) << b;
  EXPECT_NE(render_batch_script(s, 2, 1, "t", "l", "/w").find("#SBATCH --gpus-per-node=2\n"),
            std::string::npos);
  EXPECT_THROW(render_batch_script(s, 6, 1, "t", "l", "/w"), ConfigError);
}

TEST(BatchScript, RenderedScriptsAreValidBash) {
  TempDir tmp;
  for (const char* node : {"cpu", "gpu"}) {
    SweepSpec s = parse_sweep_spec(
        fmt::format("[slurm]\nnode = {}\nextra = --exclusive --constraint=a100\n", node), "s");
    fs::path file = tmp / (std::string(node) + ".sbatch");
    write_file(file, render_batch_script(s, 1, 2, tmp / "tasks.txt", tmp.path(), "/w x"));
    EXPECT_EQ(std::system(("bash -n " + file.string()).c_str()), 0) << read_file(file);
    EXPECT_NE(read_file(file).find("#SBATCH --exclusive\n#SBATCH --constraint=a100\n"),
              std::string::npos);
  }
}

TEST(BatchScript, OwnTemplateWithUnknownPlaceholderIsRefused) {
  TempDir tmp;
  write_file(tmp / "t.sh", "#!/bin/bash\n#SBATCH --array={{ARRAY}}\n{{NOPE}}\n");
  SweepSpec s = parse_sweep_spec("[slurm]\ntemplate = " + (tmp / "t.sh").string() + "\n", "s");
  try {
    render_batch_script(s, 1, 3, "t", "l", "/w");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'{{NOPE}}'"), std::string::npos) << e.what();
  }
}

TEST(ShellQuote, PlainAndQuoted) {
  EXPECT_EQ(shell_quote("a/b-c_d.ini"), "a/b-c_d.ini");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
}

}  // namespace
}  // namespace mmaux::launch
