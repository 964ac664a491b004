// split_retrieval: the ITC vectors of a whole split, then retrieval_recall.
#include "mmaux/config/data_options.h"
#include "mmaux/core/error.h"
#include "mmaux/data/manifest.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/train/joint_loss.h"
#include "mmaux/train/retrieval.h"
#include "score_split.h"

namespace mmaux::train {

RetrievalRecall split_retrieval(model::MultimodalModel& model, const data::Manifest& manifest,
                                const DataOptions& data, const std::string& split,
                                c10::Device device, dist::Communicator& comm) {
  MMAUX_CHECK_CONFIG(manifest.has_split(split), "the data set in '{}' has no '{}' split", data.dir,
                     split);
  ItcRows itc;
  for_each_eval_batch(model, manifest, data, split, comm.rank(), comm.world_size(),
                      [&](const data::Batch& batch) {
                        model::ModelInput input = to_model_input(batch, device);
                        input.need_itc = true;
                        itc.add(model.encode(input));
                      });
  return itc.recall(comm);
}

}  // namespace mmaux::train
