// The rows of the ITM pass: select_pairs and gather_rows move token type ids with the text rows
// (MMBT gives its text type 1, LXMERT and BERT sentence pairs carry segments), and leave them
// undefined (type 0 everywhere) when the batch has none; concat_rows (the host table of an
// accumulated batch's hard-ITM rows) and to_device keep them too.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <mutex>

#include "mmaux/core/error.h"
#include "mmaux/dist/thread_ranks.h"
#include "train/model_rows.h"

namespace mmaux::train {
namespace {

// b rows of length L whose every value names its row r: ids 100 r + position, types r % 2 (and
// 1 at the last position), pixels r, masks 1 with the last token of row 0 padded.
model::ModelInput rows(int64_t b, int64_t length, int64_t first_row, bool types) {
  model::ModelInput in;
  at::Tensor r = at::arange(first_row, first_row + b, at::kLong).unsqueeze(1);
  in.input_ids = 100 * r + at::arange(length, at::kLong).unsqueeze(0);
  in.attention_mask = at::ones({b, length}, at::kLong);
  in.attention_mask[0][length - 1] = 0;
  if (types) {
    in.token_type_ids = (r % 2).expand({b, length}).contiguous();
    in.token_type_ids.select(1, length - 1).fill_(1);
  }
  in.pixels = r.to(at::kFloat).view({b, 1, 1, 1}).expand({b, 3, 2, 2}).contiguous();
  in.pixel_mask = at::ones({b, 2, 2}, at::kLong);
  return in;
}

TEST(ModelRows, SelectPairsMovesTokenTypesWithTheTextRows) {
  const int64_t offset = 10;
  model::ModelInput in = rows(4, 5, offset, true);
  loss::ItmPlan plan;
  plan.text_rows = at::tensor({13, 10, 11, 12}, at::kLong);  // texts swapped against images
  plan.image_rows = at::tensor({10, 11, 12, 12}, at::kLong);
  model::ModelInput p = select_pairs(in, plan, offset);
  const at::Tensor t = plan.text_rows - offset, v = plan.image_rows - offset;
  EXPECT_TRUE(at::equal(p.input_ids, in.input_ids.index_select(0, t)));
  EXPECT_TRUE(at::equal(p.attention_mask, in.attention_mask.index_select(0, t)));
  ASSERT_TRUE(p.token_type_ids.defined());
  EXPECT_TRUE(at::equal(p.token_type_ids, in.token_type_ids.index_select(0, t)));
  EXPECT_FALSE(at::equal(p.token_type_ids, in.token_type_ids.index_select(0, v)));
  EXPECT_TRUE(at::equal(p.pixels, in.pixels.index_select(0, v)));
  EXPECT_TRUE(at::equal(p.pixel_mask, in.pixel_mask.index_select(0, v)));

  model::ModelInput untyped = rows(4, 5, offset, false);
  EXPECT_FALSE(select_pairs(untyped, plan, offset).token_type_ids.defined());
}

// Two ranks with texts of different lengths: the gathered rows are rank 0's then rank 1's, the
// shorter texts padded (ids with the pad id, masks and token types with 0).
TEST(ModelRows, GatherRowsPadsTokenTypesLikeTheTexts) {
  const int64_t pad_id = 7;
  for (bool types : {true, false}) {
    std::mutex m;
    std::vector<model::ModelInput> gathered(2);
    dist::run_thread_ranks(2, [&](const std::shared_ptr<dist::Communicator>& comm) {
      const int rank = comm->rank();
      model::ModelInput local = rank == 0 ? rows(2, 3, 0, types) : rows(3, 5, 2, types);
      model::ModelInput g = gather_rows(local, *comm, pad_id);
      std::lock_guard<std::mutex> lock(m);
      gathered[size_t(rank)] = g;
    });
    const model::ModelInput rank0 = rows(2, 3, 0, types), rank1 = rows(3, 5, 2, types);
    for (const model::ModelInput& g : gathered) {
      ASSERT_EQ(g.input_ids.sizes(), (at::IntArrayRef{5, 5}));
      EXPECT_TRUE(at::equal(g.input_ids.narrow(0, 0, 2).narrow(1, 0, 3), rank0.input_ids));
      EXPECT_TRUE(at::equal(g.input_ids.narrow(0, 0, 2).narrow(1, 3, 2),
                            at::full({2, 2}, pad_id, at::kLong)));
      EXPECT_TRUE(at::equal(g.input_ids.narrow(0, 2, 3), rank1.input_ids));
      EXPECT_EQ(g.attention_mask.narrow(0, 0, 2).narrow(1, 3, 2).sum().item<int64_t>(), 0);
      EXPECT_TRUE(at::equal(g.pixels.narrow(0, 2, 3), rank1.pixels));
      ASSERT_EQ(g.token_type_ids.defined(), types);
      if (!types) continue;
      ASSERT_EQ(g.token_type_ids.sizes(), g.input_ids.sizes());
      EXPECT_TRUE(
          at::equal(g.token_type_ids.narrow(0, 0, 2).narrow(1, 0, 3), rank0.token_type_ids));
      EXPECT_EQ(g.token_type_ids.narrow(0, 0, 2).narrow(1, 3, 2).sum().item<int64_t>(), 0);
      EXPECT_TRUE(at::equal(g.token_type_ids.narrow(0, 2, 3), rank1.token_type_ids));
    }
  }
}

// The micro-batches of an accumulated batch in order, texts and images of different sizes: every
// field padded like gather_rows pads across ranks; the ITM pairs taken from the table carry the
// token types of their text rows.
TEST(ModelRows, ConcatRowsPadsEveryFieldAndKeepsTokenTypes) {
  const int64_t pad_id = 7;
  for (bool types : {true, false}) {
    model::ModelInput a = rows(2, 3, 0, types), b = rows(3, 5, 2, types);
    b.pixels = at::arange(2, 5, at::kFloat).view({3, 1, 1, 1}).expand({3, 3, 4, 4}).contiguous();
    b.pixel_mask = at::ones({3, 4, 4}, at::kLong);
    const model::ModelInput t = concat_rows({a, b}, pad_id);
    ASSERT_EQ(t.input_ids.sizes(), (at::IntArrayRef{5, 5}));
    EXPECT_TRUE(at::equal(t.input_ids.narrow(0, 0, 2).narrow(1, 0, 3), a.input_ids));
    EXPECT_TRUE(at::equal(t.input_ids.narrow(0, 0, 2).narrow(1, 3, 2),
                          at::full({2, 2}, pad_id, at::kLong)));
    EXPECT_TRUE(at::equal(t.input_ids.narrow(0, 2, 3), b.input_ids));
    EXPECT_TRUE(at::equal(t.attention_mask.narrow(0, 0, 2).narrow(1, 0, 3), a.attention_mask));
    EXPECT_EQ(t.attention_mask.narrow(0, 0, 2).narrow(1, 3, 2).sum().item<int64_t>(), 0);
    ASSERT_EQ(t.pixels.sizes(), (at::IntArrayRef{5, 3, 4, 4}));
    EXPECT_TRUE(at::equal(t.pixels.narrow(0, 0, 2).narrow(2, 0, 2).narrow(3, 0, 2), a.pixels));
    EXPECT_EQ(t.pixels.narrow(0, 0, 2).narrow(2, 2, 2).abs().sum().item<double>(), 0);
    EXPECT_TRUE(at::equal(t.pixels.narrow(0, 2, 3), b.pixels));
    EXPECT_EQ(t.pixel_mask.narrow(0, 0, 2).sum().item<int64_t>(), 2 * 2 * 2);
    ASSERT_EQ(t.token_type_ids.defined(), types);

    loss::ItmPlan plan;  // text of global row 4 (b's last) with image 0, text 1 with image 3
    plan.text_rows = at::tensor({4, 1}, at::kLong);
    plan.image_rows = at::tensor({0, 3}, at::kLong);
    const model::ModelInput pairs = to_device(select_pairs(t, plan, 0), c10::Device(c10::kCPU));
    EXPECT_TRUE(at::equal(pairs.input_ids[0], b.input_ids[2]));
    EXPECT_TRUE(at::equal(pairs.pixels[1], b.pixels[1]));
    ASSERT_EQ(pairs.token_type_ids.defined(), types);
    if (!types) continue;
    EXPECT_TRUE(at::equal(t.token_type_ids.narrow(0, 0, 2).narrow(1, 0, 3), a.token_type_ids));
    EXPECT_EQ(t.token_type_ids.narrow(0, 0, 2).narrow(1, 3, 2).sum().item<int64_t>(), 0);
    EXPECT_TRUE(at::equal(t.token_type_ids.narrow(0, 2, 3), b.token_type_ids));
    EXPECT_TRUE(at::equal(pairs.token_type_ids[0], b.token_type_ids[2]));
    EXPECT_TRUE(at::equal(pairs.token_type_ids[1].narrow(0, 0, 3), a.token_type_ids[1]));
  }
  // Token types in some micro-batches only: a bug of the caller.
  EXPECT_THROW(concat_rows({rows(2, 3, 0, true), rows(1, 3, 2, false)}, pad_id), InternalError);
}

// Region features, boxes and mask (LXMERT) belong to the image: they follow the image rows in
// select_pairs and are gathered with them (no padding along R: every rank has 36 regions).
void add_regions(model::ModelInput& in, int64_t first_row) {
  const int64_t b = in.pixels.size(0);
  at::Tensor r = at::arange(first_row, first_row + b, at::kFloat).view({b, 1, 1});
  in.region_features = r + at::arange(4 * 3, at::kFloat).view({1, 4, 3}) / 100;
  in.region_boxes = (r / 100).expand({b, 4, 4}).contiguous();
  in.region_mask = at::ones({b, 4}, at::kLong);
  in.region_mask.select(1, 3).copy_(at::arange(first_row, first_row + b, at::kLong) % 2);
}

TEST(ModelRows, RegionInputsFollowTheImageRows) {
  const int64_t offset = 10;
  model::ModelInput in = rows(4, 5, offset, false);
  add_regions(in, offset);
  loss::ItmPlan plan;
  plan.text_rows = at::tensor({13, 10, 11, 12}, at::kLong);
  plan.image_rows = at::tensor({10, 12, 12, 11}, at::kLong);
  model::ModelInput p = select_pairs(in, plan, offset);
  const at::Tensor v = plan.image_rows - offset;
  ASSERT_TRUE(p.region_features.defined() && p.region_boxes.defined() && p.region_mask.defined());
  EXPECT_TRUE(at::equal(p.region_features, in.region_features.index_select(0, v)));
  EXPECT_TRUE(at::equal(p.region_boxes, in.region_boxes.index_select(0, v)));
  EXPECT_TRUE(at::equal(p.region_mask, in.region_mask.index_select(0, v)));
  EXPECT_FALSE(select_pairs(rows(4, 5, offset, false), plan, offset).region_features.defined());

  std::mutex m;
  std::vector<model::ModelInput> gathered(2);
  dist::run_thread_ranks(2, [&](const std::shared_ptr<dist::Communicator>& comm) {
    const int rank = comm->rank();
    model::ModelInput local = rank == 0 ? rows(2, 3, 0, false) : rows(3, 5, 2, false);
    add_regions(local, rank == 0 ? 0 : 2);
    model::ModelInput g = gather_rows(local, *comm, 0);
    std::lock_guard<std::mutex> lock(m);
    gathered[size_t(rank)] = g;
  });
  model::ModelInput all = rows(5, 5, 0, false);
  add_regions(all, 0);
  for (const model::ModelInput& g : gathered) {
    EXPECT_TRUE(at::equal(g.region_features, all.region_features));
    EXPECT_TRUE(at::equal(g.region_boxes, all.region_boxes));
    EXPECT_TRUE(at::equal(g.region_mask, all.region_mask));
  }
  // The micro-batches of an accumulated batch (contrastive accumulation's table) keep them too.
  model::ModelInput a = rows(2, 3, 0, false), b = rows(3, 5, 2, false);
  add_regions(a, 0);
  add_regions(b, 2);
  const model::ModelInput table = to_device(concat_rows({a, b}, 0), c10::Device(c10::kCPU));
  EXPECT_TRUE(at::equal(table.region_features, all.region_features));
  EXPECT_TRUE(at::equal(table.region_boxes, all.region_boxes));
  EXPECT_TRUE(at::equal(table.region_mask, all.region_mask));
}

}  // namespace
}  // namespace mmaux::train
