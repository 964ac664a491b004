#!/usr/bin/python3
"""Writes the region-feature fixtures of tests/preprocessing/test_region_sources.cpp; run from this
directory with Debian's python3-torch and python3-h5py (PyTorch 1.13, h5py 3.7):
    /usr/bin/python3 make_fixtures.py

Both layouts that `mmaux preprocess --region-features` reads, with F = 8 feature dimensions (the
real extractor's F is 2048; the readers take F from the model's visual_feat_dim):

torch_dir/   the paper scripts' layout (models/obj_features.py of the reference code):
             features/feat_{id} and boxes/nbox_{id}, each written by torch.save(tensor, path),
             exactly as the script saves output_dict.get("roi_features") / ("normalized_boxes").
regions.h5   /{id}/roi_features [n, F] and /{id}/normalized_boxes [n, 4].

Post ids (the same in both, where the layout allows):
  ok_full        1 x 36 x F float32 (the extractor's shape), boxes 1 x 36 x 4
  ok_few         5 x F float64 (no leading 1; converted to float32), boxes 5 x 4
  ok_zero        0 regions
  bad_dim        36 x 7 features (F = 8 expected)
  bad_many       40 regions (more than 36)
  bad_count      36 features but 30 boxes
  bad_nan        a NaN feature value (region 2, feature 3)
  bad_inf_box    an infinite box value (region 4)
  bad_outside    a box with x2 = 1.5 (region 1)
  bad_reversed   a box with x2 < x1 (region 0)
  bad_int        int64 features
  bad_dict       (torch_dir) features saved as a dict {"roi_features": t}, not a tensor
  bad_no_boxes   (torch_dir) features only; (regions.h5) a group without normalized_boxes
  bad_rank1      (regions.h5) 1-D roi_features
  bad_not_group  (regions.h5) /bad_not_group is a dataset
  bad_corrupt    (torch_dir) the features file cut in half
Values: feature[i][k] = (i * F + k) / 100, box[i] = (i/40, i/80, i/40 + 0.02, i/80 + 0.5).
"""
import os

import h5py
import numpy as np
import torch

F = 8


def features(n, dtype=torch.float32):
    return (torch.arange(n * F, dtype=torch.float64).reshape(n, F) / 100).to(dtype)


def boxes(n):
    i = torch.arange(n, dtype=torch.float64)
    return torch.stack([i / 40, i / 80, i / 40 + 0.02, i / 80 + 0.5], dim=1).to(torch.float32)


def cases():
    """id -> (features, boxes) tensors, without the leading 1."""
    c = {}
    c["ok_full"] = (features(36), boxes(36))
    c["ok_few"] = (features(5, torch.float64), boxes(5).double())
    c["ok_zero"] = (features(0), boxes(0))
    c["bad_dim"] = (torch.zeros(36, 7), boxes(36))
    c["bad_many"] = (features(40), boxes(40))
    c["bad_count"] = (features(36), boxes(30))
    f = features(36)
    f[2, 3] = float("nan")
    c["bad_nan"] = (f, boxes(36))
    b = boxes(36)
    b[4, 1] = float("inf")
    c["bad_inf_box"] = (features(36), b)
    b = boxes(36)
    b[1, 2] = 1.5
    c["bad_outside"] = (features(36), b)
    b = boxes(36)
    b[0, 0], b[0, 2] = 0.6, 0.4
    c["bad_reversed"] = (features(36), b)
    c["bad_int"] = (torch.arange(36 * F).reshape(36, F), boxes(36))
    return c


def write_torch_dir():
    os.makedirs("torch_dir/features", exist_ok=True)
    os.makedirs("torch_dir/boxes", exist_ok=True)
    for name, (f, b) in cases().items():
        # The extractor returns [1, 36, ...]; ok_few keeps the 2-D shape on purpose.
        if name != "ok_few":
            f, b = f.unsqueeze(0), b.unsqueeze(0)
        torch.save(f, f"torch_dir/features/feat_{name}")
        torch.save(b, f"torch_dir/boxes/nbox_{name}")
    torch.save({"roi_features": features(36)}, "torch_dir/features/feat_bad_dict")
    torch.save(boxes(36), "torch_dir/boxes/nbox_bad_dict")
    torch.save(features(36), "torch_dir/features/feat_bad_no_boxes")
    torch.save(features(36).unsqueeze(0), "torch_dir/features/feat_bad_corrupt")
    with open("torch_dir/features/feat_bad_corrupt", "rb") as fh:
        data = fh.read()
    with open("torch_dir/features/feat_bad_corrupt", "wb") as fh:
        fh.write(data[: len(data) // 2])
    torch.save(boxes(36).unsqueeze(0), "torch_dir/boxes/nbox_bad_corrupt")


def write_h5():
    with h5py.File("regions.h5", "w") as h:
        for name, (f, b) in cases().items():
            g = h.create_group(name)
            g.create_dataset("roi_features", data=f.numpy())
            g.create_dataset("normalized_boxes", data=b.numpy())
        h.create_group("bad_no_boxes").create_dataset("roi_features", data=features(36).numpy())
        g = h.create_group("bad_rank1")
        g.create_dataset("roi_features", data=np.zeros(36 * F, dtype=np.float32))
        g.create_dataset("normalized_boxes", data=boxes(36).numpy())
        h.create_dataset("bad_not_group", data=np.zeros(3, dtype=np.float32))


write_torch_dir()
write_h5()
