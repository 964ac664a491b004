// split_retrieval on real shards and a real tiny model: every row of the split is scored, the
// figures are retrieval_recall's on the model's own ITC vectors, the model's mode is restored.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "mmaux/config/data_options.h"
#include "mmaux/data/loader.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/train/joint_loss.h"
#include "mmaux/train/retrieval.h"
#include "support/test_support.h"
#include "unit/data/data_fixture.h"

namespace mmaux::train {
namespace {

TEST(SplitRetrieval, ScoresEveryRowWithTheModelsItcVectors) {
  testing::TempDir dir;
  data::Manifest m = testing::write_fixture_dataset(
      dir.path().string(), {{"train", 4}, {"validation", 11}}, 4, "fixed:64");
  at::manual_seed(1);
  ModelOptions mo;  // tiny ber-vit-concat
  auto model = model::make_model(mo, 3);
  DataOptions data;
  data.dir = dir.path().string();
  data.eval_batch_size = 4;
  auto comm = dist::make_local_communicator();
  model->train();
  RetrievalRecall r = split_retrieval(*model, m, data, "validation", c10::kCPU, *comm);
  EXPECT_TRUE(model->is_training());
  EXPECT_EQ(r.n, 11);

  // The same vectors by hand: eval mode, the evaluation loader's batches.
  model->eval();
  at::NoGradGuard no_grad;
  data::Loader loader(m, data::evaluation_loader_options(data, "validation", 0, 1));
  std::vector<at::Tensor> text, image;
  while (auto batch = loader.next()) {
    model::Encoded e = model->encode(to_model_input(*batch, c10::kCPU));
    text.push_back(e.itc_text);
    image.push_back(e.itc_image);
  }
  RetrievalRecall expected = retrieval_recall(at::cat(text), at::cat(image), *comm);
  EXPECT_EQ(r.image_to_text, expected.image_to_text);
  EXPECT_EQ(r.text_to_image, expected.text_to_image);

  EXPECT_THROW(split_retrieval(*model, m, data, "test", c10::kCPU, *comm), ConfigError);
}

}  // namespace
}  // namespace mmaux::train
