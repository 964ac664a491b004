#!/usr/bin/env python3
"""Writes the safetensors parser corpus (standard library only; run from this directory).

valid_*  must parse; bad_* must be rejected with a clear error; edge_* may do either but must
never crash. The fuzzer (bench/model/fuzz_safetensors) starts from these files.
"""
import json
import struct


def raw(name, header_bytes, data=b"", length=None):
    n = len(header_bytes) if length is None else length
    with open(name, "wb") as f:
        f.write(struct.pack("<Q", n) + header_bytes + data)


def st(name, header, data=b"", length=None):
    raw(name, json.dumps(header).encode(), data, length)


f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)
st("valid_f32.safetensors",
   {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
    "__metadata__": {"format": "pt"}}, f32 + struct.pack("<2f", 7.0, 8.0))
header, data = {}, b""
for dt, size, fill in [("F64", 8, b"\x00" * 6 + b"\xf0\x3f"), ("F32", 4, b"\x00\x00\x80\x3f"),
                       ("F16", 2, b"\x00\x3c"), ("BF16", 2, b"\x80\x3f"), ("I64", 8, b"\x05" + b"\x00" * 7),
                       ("I32", 4, b"\x05\x00\x00\x00"), ("I16", 2, b"\x05\x00"), ("I8", 1, b"\xfb"),
                       ("U8", 1, b"\xfb"), ("BOOL", 1, b"\x01")]:
    header[dt.lower()] = {"dtype": dt, "shape": [3], "data_offsets": [len(data), len(data) + 3 * size]}
    data += fill * 3
st("valid_all_dtypes.safetensors", header, data)
st("valid_empty_tensor.safetensors",
   {"e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]},
    "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, f32)
st("valid_metadata_only.safetensors", {"__metadata__": {"format": "pt"}})
raw("valid_padded_header.safetensors",
    json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode() + b"     ", f32)

with open("bad_short_file.safetensors", "wb") as f:
    f.write(b"\x10\x00\x00")
raw("bad_header_beyond_file.safetensors", b'{"a": 1}', b"", length=1000)
raw("bad_header_huge.safetensors", b"{}", b"", length=2**63 + 5)
raw("bad_json.safetensors", b"{not json")
raw("bad_not_object.safetensors", b"[1, 2, 3]")
raw("bad_deep_nesting.safetensors", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")
st("bad_unknown_dtype.safetensors", {"a": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}},
   b"\x00" * 4)
st("bad_offsets_out_of_range.safetensors", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}},
   f32)
st("bad_offsets_reversed.safetensors", {"a": {"dtype": "F32", "shape": [0], "data_offsets": [16, 0]}}, f32)
st("bad_offsets_negative.safetensors", {"a": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}, f32)
st("bad_offsets_three.safetensors", {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}, f32)
st("bad_overlap.safetensors",
   {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
    "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, f32)
st("bad_size_mismatch.safetensors", {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}, f32)
st("bad_shape_negative.safetensors", {"a": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}}, f32)
st("bad_shape_overflow.safetensors",
   {"a": {"dtype": "F32", "shape": [2**40, 2**40, 2**40], "data_offsets": [0, 16]}}, f32)
st("bad_shape_overflow_bytes.safetensors",
   {"a": {"dtype": "F64", "shape": [2**62], "data_offsets": [0, 16]}}, f32)
st("bad_shape_not_integer.safetensors", {"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 16]}}, f32)
st("bad_missing_dtype.safetensors", {"a": {"shape": [4], "data_offsets": [0, 16]}}, f32)
st("bad_entry_not_object.safetensors", {"a": [1, 2]}, f32)
st("bad_bool_value.safetensors", {"a": {"dtype": "BOOL", "shape": [4], "data_offsets": [0, 4]}},
   b"\x01\x00\x07\x01")
st("bad_metadata_not_string.safetensors", {"__metadata__": {"format": 3}})
st("bad_empty_name.safetensors", {"": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, f32)
st("edge_zero_elements_huge_dims.safetensors",
   {"a": {"dtype": "F32", "shape": [0, 2**62], "data_offsets": [0, 0]}})
st("edge_trailing_bytes.safetensors", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
   f32)
