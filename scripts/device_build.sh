#!/usr/bin/env bash
# Prepares .device/: what a lent GPU machine (the `device` tool) needs to run
# arlab, built here. That machine cannot reach the package registries and
# has no Rust; its python3 holds a PyTorch of its own (2.11.0+cu130 when last
# seen, not the 2.13.0 that tch 0.26 expects), and libtorch is too large to
# carry (the tool carries 64 MiB). So arlab is built here against the headers
# and libraries of that same torch wheel from PyPI, and runs there on the
# machine's own torch libraries (scripts/device_check.sh; docs/device.md).
#
#   bash scripts/device_build.sh [TORCH_VERSION]   # default 2.11.0
#
# Writes .device/ (carried: about 25 MiB): arlab (the binary),
# TORCH_VERSION (the torch it was built against) and mnist.npz.gz (the
# classic MNIST split of .data/, compressed). The torch wheel and the build
# live in .device-build/ (not carried; about 2.5 GB). Both are git-ignored.
# Needs scripts/setup.sh to have run (the data and Python's pip).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${1:-2.11.0}
say() { echo "[device_build] $*" >&2; }
build=.device-build
torch=$build/torch-$VERSION/torch

if [ ! -f "$torch/version.py" ]; then
  mkdir -p "$build"
  if ! compgen -G "$build/torch-$VERSION-*.whl" >/dev/null; then
    say "downloading torch==$VERSION from PyPI (the wheel only, about 0.5 GB)"
    .venv/bin/python -m pip download --no-input --disable-pip-version-check -q \
      --no-deps --only-binary=:all: -d "$build" "torch==$VERSION"
  fi
  say "unpacking its headers and libraries into $build/torch-$VERSION"
  unzip -q -o "$build"/torch-"$VERSION"-*.whl 'torch/include/*' 'torch/lib/*' \
    'torch/share/*' 'torch/version.py' -d "$build/torch-$VERSION"
fi
# The CUDA libraries libtorch_cuda.so needs, found through its RUNPATH
# ($ORIGIN/../../nvidia/...): here, those of .venv's torch, so that the
# binary can be tried on this machine too (the GPU machine has its own).
ln -sfn "$(cd .venv/lib/python3*/site-packages/nvidia && pwd)" "$build/torch-$VERSION/nvidia"

# tch 0.26's C++ bindings name a few operators that older libtorch lacks:
# a copy of torch-sys with those bindings stubbed (scripts/device_torch_sys.py)
# replaces it, in a copy of the sources, so that this checkout's Cargo.lock
# stays as it is.
torch_sys=$(cargo metadata --format-version 1 --locked | .venv/bin/python -c '
import json, sys
pkgs = json.load(sys.stdin)["packages"]
print(next(p["manifest_path"] for p in pkgs if p["name"] == "torch-sys").rsplit("/", 1)[0])')
say "adapting $torch_sys to torch $VERSION"
python3 scripts/device_torch_sys.py "$torch_sys" "$build/torch-sys" "$torch"
rm -rf "$build/src"
mkdir -p "$build/src"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$build/src"

say "building arlab against torch $VERSION (release; a first build takes about 10 minutes)"
# tch 0.26 checks for PyTorch 2.13.0; the bypass lets it build against another version.
(cd "$build/src" && LIBTORCH="$OLDPWD/$torch" LIBTORCH_BYPASS_VERSION_CHECK=1 \
  CARGO_TARGET_DIR="$OLDPWD/$build/target" \
  cargo build --release --bin arlab \
    --config "patch.crates-io.torch-sys.path='$OLDPWD/$build/torch-sys'")

mkdir -p .device
cp "$build/target/release/arlab" .device/arlab
sed -n "s/^__version__ = '\(.*\)'/\1/p" "$torch/version.py" >.device/TORCH_VERSION
if [ ! -f .device/mnist.npz.gz ] || [ .data/mnist-classic/mnist.npz -nt .device/mnist.npz.gz ]; then
  gzip -9 -c .data/mnist-classic/mnist.npz >.device/mnist.npz.tmp
  mv .device/mnist.npz.tmp .device/mnist.npz.gz
fi
say "ready: .device/ ($(du -sh .device | cut -f1)), built against torch $(cat .device/TORCH_VERSION)"
say "smoke test here (CPU): LD_LIBRARY_PATH=$torch/lib .device/arlab doctor"
