#!/usr/bin/python3
"""An independent reader of the safetensors format, for the tests of @hicra/policy.

Written from the format's specification with the standard library and numpy only (Python's
`safetensors` package is not installable here). Reads one file and prints, as JSON, its
metadata and every tensor in the order of its bytes: name, dtype, shape, the SHA-256 of its
bytes, its values as numpy reads them (NaN and infinities as strings, 64-bit integers as
strings) and, for floating-point dtypes, the raw bits of each element. A malformed file exits
with status 2 and a message on stderr.

    /usr/bin/python3 read_safetensors.py FILE
"""
import hashlib
import json
import math
import struct
import sys

import numpy as np

# dtype -> (numpy dtype of the elements, numpy dtype of their bits or None)
DTYPES = {
    "F64": ("<f8", "<u8"),
    "F32": ("<f4", "<u4"),
    "F16": ("<f2", "<u2"),
    "BF16": (None, "<u2"),  # numpy has no bfloat16: widened to float32 below
    "I64": ("<i8", None),
    "U64": ("<u8", None),
    "I32": ("<i4", None),
    "U32": ("<u4", None),
    "I16": ("<i2", None),
    "U16": ("<u2", None),
    "I8": ("i1", None),
    "U8": ("u1", None),
    "BOOL": ("?", None),
}


def fail(message):
    print(f"read_safetensors.py: {message}", file=sys.stderr)
    sys.exit(2)


def plain(value):
    """A JSON-safe float: NaN and infinities as strings."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def listed(array):
    """Elements as JSON values; 64-bit integers as decimal strings (JSON numbers lose them)."""
    if array.dtype.kind in "iu" and array.dtype.itemsize == 8:
        return [str(v) for v in array.tolist()]
    return [plain(v) for v in array.tolist()]


def read(path):
    with open(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 8:
        fail("shorter than the 8-byte header length")
    (header_length,) = struct.unpack("<Q", raw[:8])
    if 8 + header_length > len(raw):
        fail("header length beyond the end of the file")
    header = json.loads(raw[8 : 8 + header_length].decode("utf-8"))
    data = raw[8 + header_length :]
    metadata = header.pop("__metadata__", {})
    entries = sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"]))
    position = 0
    tensors = []
    for name, info in entries:
        dtype = info["dtype"]
        shape = [int(s) for s in info["shape"]]
        begin, end = info["data_offsets"]
        if begin != position:
            fail(f"tensor {name!r} starts at {begin}, expected {position}")
        position = end
        element_type, bits_type = DTYPES[dtype]
        chunk = data[begin:end]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        width = np.dtype(element_type or bits_type).itemsize
        if len(chunk) != count * width:
            fail(f"tensor {name!r}: {len(chunk)} bytes for shape {shape} of {dtype}")
        if dtype == "BF16":
            bits = np.frombuffer(chunk, dtype="<u2")
            values = (bits.astype("<u4") << 16).view("<f4")
        else:
            values = np.frombuffer(chunk, dtype=element_type)
        values = values.reshape(shape)
        record = {
            "name": name,
            "dtype": dtype,
            "shape": list(values.shape),
            "sha256": hashlib.sha256(chunk).hexdigest(),
            "values": listed(values.reshape(-1)),
        }
        if bits_type is not None:
            record["bits"] = listed(np.frombuffer(chunk, dtype=bits_type))
        tensors.append(record)
    if position != len(data):
        fail(f"{len(data) - position} bytes after the last tensor")
    return {"metadata": metadata, "tensors": tensors}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: read_safetensors.py FILE")
    print(json.dumps(read(sys.argv[1])))
