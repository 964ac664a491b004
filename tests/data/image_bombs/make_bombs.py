#!/usr/bin/env python3
"""Writes the header-only image bombs of tests/unit/data/test_image_bombs.cpp.

Each file is tiny (under 200 bytes) but declares an image far above PIL's limit of 89,478,485
pixels, the kind of file that made preprocessing take 21 GB (issue 13). They are written by hand
from the format specifications (PNG: RFC 2083; JPEG: ITU T.81; GIF: GIF89a; WebP: RIFF container
with a VP8X and a VP8L header), not by an encoder, so nothing here ever decodes at that size.
Run from this directory: python3 make_bombs.py
"""
import struct
import zlib


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width, height):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    # The first bytes of a deflate stream of zero rows: the file ends long before the image.
    idat = zlib.compress(b"\0" * 64)[:12]
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) +
            png_chunk(b"IEND", b""))


def jpeg(width, height):
    soi = b"\xff\xd8"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    comps = b"".join(bytes([c, 0x11, 0]) for c in (1, 2, 3))
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 8 + 3 * 3, 8, height, width, 3) + comps
    # One Huffman table (DC, class 0, id 0) with a single 1-bit code, used by every component.
    dht = b"\xff\xc4" + struct.pack(">H", 2 + 1 + 16 + 1) + b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    ac = b"\xff\xc4" + struct.pack(">H", 2 + 1 + 16 + 1) + b"\x10" + bytes([1] + [0] * 15) + b"\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 6 + 2 * 3, 3) + b"".join(
        bytes([c, 0x00]) for c in (1, 2, 3)) + b"\x00\x3f\x00"
    return soi + dqt + sof0 + dht + ac + sos + b"\x00" * 8 + b"\xff\xd9"


def gif(width, height):
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # 2-colour table
    palette = b"\x00\x00\x00\xff\xff\xff"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    data = b"\x02\x02\x44\x01\x00"  # LZW minimum code size 2, one tiny sub-block
    return header + palette + descriptor + data + b"\x3b"


def webp(width, height):
    # VP8X: canvas size (24 bits each, minus one); VP8L: a lossless bitstream header (14 bits each).
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + \
        (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    bits = (width - 1) | ((height - 1) << 14)  # alpha 0, version 0
    vp8l_data = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 7
    vp8l = b"VP8L" + struct.pack("<I", len(vp8l_data)) + vp8l_data
    body = b"WEBP" + vp8x + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def main():
    files = {
        "png_60000x60000.png": png(60000, 60000),
        "jpeg_60000x60000.jpg": jpeg(60000, 60000),
        "gif_65535x65535.gif": gif(65535, 65535),
        "webp_16383x16383.webp": webp(16383, 16383),
        # Just over the limit: 9460 x 9460 = 89,491,600 > 89,478,485 pixels.
        "png_9460x9460.png": png(9460, 9460),
    }
    for name, data in files.items():
        with open(name, "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
