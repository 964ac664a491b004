#include <memory>

#include "cli/command.h"
#include "mmaux/config/run_config.h"
#include "mmaux/train/pretrain.h"
#include "mmaux/train/trainer.h"

namespace mmaux::cli {

Command training_run_command(const std::shared_ptr<TrainingRun>& s) {
  Command c;
  c.distributed = true;
  c.log = &s->log;
  c.topology = &s->run.topology;
  c.declare = [s](OptionSet& set) {
    declare_data_options(set, s->run.data);
    declare_model_options(set, s->run.model);
    if (s->run.pretrain.on) {
      declare_pretrain_options(set, s->run.pretrain, s->run.loss);
    } else {
      declare_loss_options(set, s->run.loss);
    }
    declare_train_options(set, s->run.train);
    declare_dist_options(set, s->run.dist);
    declare_log_options(set, s->log);
  };
  c.run_with_options = [s](const OptionSet& set) {
    s->run.config_ini = format_config(set);
    s->run.options = option_values(set);
    s->run.batch_job = slurm_job_of_this_process();
    return s->run.pretrain.on ? train::run_pretraining(s->run) : train::run_training(s->run);
  };
  return c;
}

Command make_train_command() {
  Command c = training_run_command(std::make_shared<TrainingRun>());
  c.name = "train";
  c.summary = "train a classifier with CE + ITC + ITM (alone or under mpirun/srun)";
  c.usage = "mmaux train [--config FILE] [options]";
  c.example = "mpirun -np 2 mmaux train --config configs/demo.ini --loss.itc 0.1 --loss.itm 0.1";
  return c;
}

}  // namespace mmaux::cli
