#!/usr/bin/python3
"""Writes the torch.save (.bin) parser corpus; run from this directory with Debian's python3-torch
(`apt install python3-torch`, PyTorch 1.13): /usr/bin/python3 make_corpus.py

valid_*  are real torch.save files that must load (the test checks their values);
bad_*    must be rejected with a clear error naming the file (hostile pickles are written opcode
         by opcode, so they do exactly what their name says);
The fuzzer (bench/model/fuzz_torch_bin) starts from these files.
"""
import collections
import json
import os
import struct
import zipfile

import torch

torch.manual_seed(0)


# ---- valid files, written by torch.save itself --------------------------------------------------
def dtypes_dict():
    d = {}
    d["f32"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4
    d["f64"] = torch.arange(3, dtype=torch.float64) - 1.5
    d["f16"] = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float16)
    d["bf16"] = torch.tensor([1.0, -2.0, 0.5], dtype=torch.bfloat16)
    d["i64"] = torch.tensor([-5, 0, 1 << 40], dtype=torch.int64)
    d["i32"] = torch.tensor([-5, 0, 7], dtype=torch.int32)
    d["i16"] = torch.tensor([-5, 0, 7], dtype=torch.int16)
    d["i8"] = torch.tensor([-5, 0, 7], dtype=torch.int8)
    d["u8"] = torch.tensor([251, 0, 7], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    return d


torch.save(dtypes_dict(), "valid_dtypes.bin")
torch.save(dtypes_dict(), "valid_protocol4.bin", pickle_protocol=4)

base = torch.arange(12, dtype=torch.float32)
views = collections.OrderedDict()
views["tied_a"] = base.reshape(3, 4)
views["tied_b"] = base.reshape(3, 4)  # the same storage twice (tied weights)
views["transposed"] = base.reshape(3, 4).t()  # strides (1, 4)
views["slice"] = base[5:9]  # storage offset 5
views["scalar"] = torch.tensor(2.5)
views["empty"] = torch.zeros(0, 3)
views["position_ids"] = torch.arange(7).expand((1, -1))  # stride 0 on a size-1 dim, as BERT's
torch.save(views, "valid_views.bin")

linear = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
torch.save(linear.state_dict(), "valid_module_state_dict.bin")  # OrderedDict + _metadata (BUILD)
torch.save({"p": torch.nn.Parameter(torch.ones(2, 2))}, "valid_parameter.bin")

with open("valid_dtypes.bin", "rb") as f:
    whole = f.read()
with open("bad_truncated.bin", "wb") as f:
    f.write(whole[: len(whole) * 3 // 5])
z = zipfile.ZipFile("valid_dtypes.bin")
member = [i for i in z.infolist() if i.filename.endswith("/data/0")][0]
local = member.header_offset
name_len, extra_len = struct.unpack("<HH", whole[local + 26:local + 30])
start = local + 30 + name_len + extra_len
corrupt = bytearray(whole)
corrupt[start] ^= 0x01
with open("bad_crc.bin", "wb") as f:
    f.write(bytes(corrupt))
torch.save({"w": torch.ones(2)}, "bad_legacy_format.bin", _use_new_zipfile_serialization=False)
with open("bad_not_zip.bin", "wb") as f:
    f.write(b"this is a text file, not a checkpoint\n")


class Script(torch.nn.Module):
    def forward(self, x):
        return x + 1


torch.jit.save(torch.jit.script(Script()), "bad_torchscript.bin")


# ---- hand-written pickles ------------------------------------------------------------------------
class P:
    """A pickle written opcode by opcode (protocol 2)."""

    def __init__(self):
        self.b = bytearray(b"\x80\x02")

    def op(self, code, payload=b""):
        self.b += code + payload
        return self

    def glob(self, module, name):
        return self.op(b"c", f"{module}\n{name}\n".encode())

    def s(self, text):
        raw = text.encode()
        return self.op(b"X", struct.pack("<I", len(raw)) + raw)

    def i(self, v):
        if -(1 << 31) <= v < (1 << 31):
            return self.op(b"J", struct.pack("<i", v))
        return self.op(b"\x8a", b"\x08" + struct.pack("<q", v))  # LONG1

    def storage(self, key, numel, kind="FloatStorage"):
        # ('storage', torch.<kind>, key, 'cpu', numel) as a persistent id
        self.op(b"(").s("storage").glob("torch", kind).s(key).s("cpu").i(numel)
        return self.op(b"t").op(b"Q")

    def ints(self, values):
        self.op(b"(")
        for v in values:
            self.i(v)
        return self.op(b"t")

    def tensor(self, key, numel, offset, size, stride, kind="FloatStorage"):
        self.glob("torch._utils", "_rebuild_tensor_v2").op(b"(")
        self.storage(key, numel, kind).i(offset).ints(size).ints(stride)
        self.op(b"\x89").glob("collections", "OrderedDict").op(b")").op(b"R")
        return self.op(b"t").op(b"R")

    def bytes(self):
        return bytes(self.b + b".")


def member(z, name, data, compress=False):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    z.writestr(info, data)


def archive(name, pickle_bytes, storages=None, compress=False):
    with zipfile.ZipFile(name, "w") as z:
        member(z, "archive/data.pkl", pickle_bytes, compress)
        for key, data in (storages or {}).items():
            member(z, f"archive/data/{key}", data, compress)
        member(z, "archive/version", b"3\n")


f32x4 = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)


def one_tensor(**kw):
    args = dict(key="0", numel=4, offset=0, size=[4], stride=[1])
    args.update(kw)
    return P().op(b"}").s("w").tensor(**args).op(b"s").bytes()


archive("valid_handwritten.bin", one_tensor(), {"0": f32x4})
archive("bad_global_os_system.bin",
        P().glob("posix", "system").op(b"(").s("echo pwned").op(b"t").op(b"R").bytes())
archive("bad_global_builtins_eval.bin",
        P().op(b"}").s("w").glob("builtins", "eval").s("1+1").op(b"\x85").op(b"R").op(b"s").bytes())
archive("bad_reduce_storage_type.bin",
        P().glob("torch", "FloatStorage").op(b")").op(b"R").bytes())
archive("bad_nested_state_dict.bin",
        P().op(b"}").s("model").op(b"}").s("w").tensor("0", 4, 0, [4], [1]).op(b"s").op(b"s")
        .bytes(), {"0": f32x4})
archive("bad_top_level_list.bin", P().op(b"]").bytes())
archive("bad_view_out_of_range.bin", one_tensor(offset=2, size=[3]), {"0": f32x4})
archive("bad_view_huge_stride.bin", one_tensor(size=[2, 2], stride=[1 << 30, 1]), {"0": f32x4})
archive("bad_negative_size.bin", one_tensor(size=[-4]), {"0": f32x4})
archive("bad_negative_offset.bin", one_tensor(offset=-1, size=[1]), {"0": f32x4})
archive("bad_self_overlapping_view.bin", one_tensor(size=[4, 4], stride=[0, 1]), {"0": f32x4})
archive("bad_storage_size_mismatch.bin", one_tensor(numel=100, size=[4]), {"0": f32x4})
archive("bad_storage_huge_numel.bin", one_tensor(numel=1 << 50, size=[4]), {"0": f32x4})
archive("bad_missing_storage.bin", one_tensor(key="7"), {"0": f32x4})
archive("bad_bool_value.bin", one_tensor(kind="BoolStorage", size=[4]), {"0": b"\x01\x00\x02\x01"})
archive("bad_unknown_opcode.bin", b"\x80\x02(I1\n.")  # protocol 0 INT
archive("bad_missing_memo.bin", P().op(b"h", b"\x05").bytes())
archive("bad_stack_underflow.bin", P().op(b"R").bytes())
archive("bad_pickle_truncated.bin", P().op(b"}").s("w").bytes()[:-3])
archive("bad_deep_nesting.bin", bytes(P().op(b"]" * 20000 + b"a" * 19999).b) + b".")
with zipfile.ZipFile("bad_no_data_pkl.bin", "w") as z:
    member(z, "archive/version", b"3\n")
    member(z, "archive/data/0", f32x4)
archive("bad_compressed.bin", one_tensor(), {"0": f32x4}, compress=True)

# A central directory that points beyond the end of the file.
with open("valid_handwritten.bin", "rb") as f:
    whole = bytearray(f.read())
end = whole.rfind(b"PK\x05\x06")
whole[end + 16:end + 20] = struct.pack("<I", len(whole) + 1000)
with open("bad_directory_outside.bin", "wb") as f:
    f.write(bytes(whole))

# ---- the same archive with zip64 records everywhere (as writers emit them past 4 GiB) --------------
def zip64_copy(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    z = zipfile.ZipFile(src)
    end = data.rfind(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack("<HII", data[end + 10:end + 20])
    central = b""
    for info in z.infolist():
        name = info.filename.encode()
        extra = struct.pack("<HHQQQ", 1, 24, info.file_size, info.compress_size, info.header_offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, info.CRC,
                               0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0,
                               0xFFFFFFFF) + name + extra
    z64 = cd_offset + len(central)
    record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central),
                         cd_offset)
    locator = struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(data[:cd_offset] + central + record + locator + eocd)
    assert zipfile.ZipFile(dst).read("archive/data/0") == z.read("archive/data/0")


zip64_copy("valid_handwritten.bin", "valid_zip64.bin")

# ---- a Hugging Face directory sharded into two .bin files, and the same weights in one file -----
state = collections.OrderedDict()
state["embeddings.word_embeddings.weight"] = torch.randn(20, 8)
state["embeddings.LayerNorm.weight"] = 1 + 0.1 * torch.randn(8)
state["encoder.layer.0.attention.self.query.weight"] = torch.randn(8, 8)
state["pooler.dense.bias"] = torch.randn(8)
os.makedirs("hf_single_bin", exist_ok=True)
os.makedirs("hf_sharded_bin", exist_ok=True)
torch.save(state, "hf_single_bin/pytorch_model.bin")
names = list(state)
shards = {"pytorch_model-00001-of-00002.bin": names[:2], "pytorch_model-00002-of-00002.bin": names[2:]}
for shard, keys in shards.items():
    torch.save({k: state[k] for k in keys}, f"hf_sharded_bin/{shard}")
with open("hf_sharded_bin/pytorch_model.bin.index.json", "w") as f:
    json.dump({"metadata": {"total_size": 0},
               "weight_map": {k: s for s, keys in shards.items() for k in keys}}, f, indent=2)
