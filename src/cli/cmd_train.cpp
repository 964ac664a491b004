#include <memory>

#include "cli/command.h"

namespace mmaux::cli {

Command make_train_command() {
  struct State {
    LogOptions log;
    DataOptions data;
    ModelOptions model;
    LossOptions loss;
    TrainOptions train;
    DistOptions dist;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "train";
  c.summary = "train a classifier with CE + ITC + ITM (alone or under mpirun/srun)";
  c.usage = "mmaux train [--config FILE] [options]";
  c.example = "mpirun -np 2 mmaux train --config configs/demo.ini --loss.itc 0.1 --loss.itm 0.1";
  c.issue = 6;
  c.distributed = true;

  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_data_options(set, s->data);
    declare_model_options(set, s->model);
    declare_loss_options(set, s->loss);
    declare_train_options(set, s->train);
    declare_dist_options(set, s->dist);
    declare_log_options(set, s->log);
  };
  return c;
}

}  // namespace mmaux::cli
