#!/usr/bin/python3
"""numpy's float16 conversions, for the tests of @hicra/policy's float formats.

    /usr/bin/python3 float16.py narrow IN OUT   float32 bits (<u4) -> numpy float16 bits (<u2)
    /usr/bin/python3 float16.py widen IN OUT    float16 bits (<u2) -> numpy float32 bits (<u4)

The conversions are numpy's own `astype` (round to nearest, ties to even); overflow warnings
are silenced since overflowing to infinity is what is being tested.
"""
import sys

import numpy as np


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("narrow", "widen"):
        print("usage: float16.py narrow|widen IN OUT", file=sys.stderr)
        sys.exit(2)
    mode, source, target = sys.argv[1:]
    with np.errstate(all="ignore"):
        if mode == "narrow":
            values = np.fromfile(source, dtype="<u4").view("<f4")
            values.astype("<f2").view("<u2").tofile(target)
        else:
            values = np.fromfile(source, dtype="<u2").view("<f2")
            values.astype("<f4").view("<u4").tofile(target)


if __name__ == "__main__":
    main()
