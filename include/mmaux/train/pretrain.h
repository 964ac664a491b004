#pragma once
/// `mmaux pretrain`: image-text pretraining without labels. L = λ_itc·ITC + λ_itm·ITM +
/// λ_mlm·MLM, where ITC and ITM are the fine-tuning terms (train::contrastive_accumulation_step
/// with CE weighted 0: ITC's negatives gathered across ranks and micro-batches, hard ITM mined
/// from the whole accumulated batch) and MLM is BERT's masked-language modelling on the text
/// tower alone, through the Hugging Face head `cls.predictions.*` (model::MlmHead).
///
/// Masking (BERT, and transformers' DataCollatorForLanguageModeling): each real token (attention
/// mask 1) that is not a special token is selected with probability mask_prob; a selected token
/// becomes [MASK] with probability 0.8, a random id of the vocabulary with 0.1, and stays with
/// 0.1; the loss is the cross entropy of the original id at the selected positions only. Every
/// draw is a pure function of (seed, step, global row of the accumulated batch, position), so W
/// ranks × k micro-batches mask exactly as one process on the whole batch does.
///
/// MLM is per row: its term is added to each micro-batch's term before that micro-batch's
/// backward (AccumulationHooks::before_backward), normalised by the number of selected tokens of
/// the whole accumulated batch on every rank (one all-reduce per step).

#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

#include "mmaux/config/run_config.h"
#include "mmaux/data/batch.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/model/mlm_head.h"
#include "mmaux/train/contrastive_accumulation.h"
#include "mmaux/train/joint_loss.h"

namespace mmaux::train {

/// How tokens are masked.
struct MlmMasking {
  int64_t mask_id = -1;              ///< [MASK]
  int64_t vocab_size = 0;            ///< random replacements are drawn from [0, vocab_size)
  std::vector<int64_t> special_ids;  ///< never selected ([CLS], [SEP], [PAD], [UNK], [MASK])
  double prob = 0.15;                ///< selection probability of a real, non-special token
  uint64_t seed = 0;
};

/// Token ids after masking.
struct MaskedText {
  at::Tensor input_ids;  ///< int64 [b, L]: what the encoder reads
  at::Tensor labels;     ///< int64 [b, L]: the original id where selected, -100 elsewhere
  int64_t selected = 0;  ///< selected positions
};

/// Masks `input_ids` (int64 [b, L], CPU) with `attention_mask` (int64 [b, L]); row i is row
/// global_rows[i] of the global batch of optimizer step `step`. Pure: the same arguments give the
/// same result on any rank. Throws ConfigError when masking.mask_id is negative.
MaskedText mask_tokens(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                       const std::vector<int64_t>& global_rows, int64_t step,
                       const MlmMasking& masking);

/// The MLM term's settings.
struct MlmObjective {
  MlmMasking masking;
  double weight = 1;  ///< λ_mlm (0 = off)
};

/// One pretraining step's forward and backward passes over `micro` (as in
/// contrastive_accumulation_step, whose `hooks` run after the MLM term is added): the
/// accumulation step with options.weights.ce = 0 (checked), plus the MLM term of `head` on
/// m.model's text tower (a dual-stream model: ConfigError otherwise), whose parameters receive
/// gradients too. losses.mlm is this rank's MLM term (the mean over ranks is the global MLM loss,
/// the mean cross entropy over every selected token). Collective.
AccumulatedStep pretrain_step(const LossModel& m, const model::MlmHead& head,
                              const std::vector<data::Batch>& micro, int64_t step,
                              const JointLossOptions& options, const MlmObjective& mlm,
                              dist::Communicator& comm, const AccumulationHooks& hooks = {});

/// Runs `mmaux pretrain` per `config` (config.pretrain.on; validate()d first): the trainer's loop
/// (data, checkpoints, resume, signals, extensions as `mmaux train`) with pretrain_step, the
/// validation ITC loss and retrieval at each epoch's end, and RUN/towers/{text,image} written
/// as Hugging Face directories at each epoch's end (text: BertForMaskedLM keys and the tokenizer).
/// Returns kExitOk or kExitRequeue like run_training. Collective.
int run_pretraining(const RunConfig& config);

}  // namespace mmaux::train
