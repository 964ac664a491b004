#!/usr/bin/env python3
"""Writes lxmert_pretraining_bin/: the hf_golden LxmertForPreTraining checkpoint
(../hf_golden/models/lxmert_prefixed_pretraining, written by transformers 4.40.2) re-saved as a
`pytorch_model.bin` with torch.save, as unc-nlp/lxmert-base-uncased ships (a pickle of
`lxmert.*` plus the pre-training heads `cls.*`, `obj_predict_head.*`, `answer_head.*`).

Run with Debian's python3-torch (1.13):  /usr/bin/python3 make_bin.py
The safetensors file is parsed with the standard library (no safetensors package on Debian).
"""
import collections
import json
import os
import shutil
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "hf_golden", "models", "lxmert_prefixed_pretraining")
OUT = os.path.join(HERE, "lxmert_pretraining_bin")
DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = collections.OrderedDict()
    for name in sorted(k for k in header if k != "__metadata__"):
        e = header[name]
        begin, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = read_safetensors(os.path.join(SRC, "model.safetensors"))
    torch.save(tensors, os.path.join(OUT, "pytorch_model.bin"))
    shutil.copyfile(os.path.join(SRC, "config.json"), os.path.join(OUT, "config.json"))
    print(f"{len(tensors)} tensors -> {OUT}")


if __name__ == "__main__":
    main()
