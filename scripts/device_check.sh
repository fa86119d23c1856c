#!/usr/bin/env bash
# The CUDA check, run on a lent GPU machine (the `device` tool) from the
# repository root, with .device/ carried (built here first by
# scripts/device_build.sh):
#
#   run(command="bash scripts/device_check.sh", carry=[".device"], timeout_s=480)
#
# It proves that arlab trains on CUDA and measures the GPU, in at most
# about seven minutes (docs/device.md):
#   1. the machine: nvidia-smi, and `arlab doctor`, which must see CUDA;
#   2. speed: `arlab bench` of the binarized-MNIST conv/recurrent models
#      (experiments/binarized_mnist_conv.yaml) on CUDA, batch 32, cut at 150 s;
#   3. training: one run of that spec (TASK, default 2: the Row LSTM) on
#      CUDA for TRAIN_SECONDS (default 150), stopped by SIGTERM as a user's
#      Ctrl-C would (resumable);
#   4. CPU against CUDA: the exact test NLL of the same best checkpoint,
#      evaluated on CUDA and on the CPU (CUDA hidden), which must agree.
# What comes back in $OUT: check.log (everything printed), doctor.txt,
# bench.csv, eval_cuda.txt, eval_cpu.txt and run.tar.gz (the run's
# directory, checkpoints left out).
# Exits non-zero, naming the step, on the first failure.
#
# DRY_RUN_CPU=1 tries the whole script here, on the CPU, with the torch of
# .device-build/ and small settings (PixelCNN only, 2,000 training images):
#   OUT=/tmp/out DRY_RUN_CPU=1 bash scripts/device_check.sh
set -euo pipefail
: "${OUT:?OUT must name the folder whose files come back (the device tool sets it)}"
SPEC=experiments/binarized_mnist_conv.yaml
if [ "${DRY_RUN_CPU:-}" = 1 ]; then
  device=cpu python=.venv/bin/python bench_models=(--models pixelcnn)
  TASK=${TASK:-0} TRAIN_SECONDS=${TRAIN_SECONDS:-120}
  small=(--set data.max_train=2000 --set data.max_val=500 --set data.max_test=500 --set train.epochs=2)
else
  device=cuda python=python3 bench_models=() small=()
  TASK=${TASK:-2} TRAIN_SECONDS=${TRAIN_SECONDS:-150}
fi
exec > >(tee "$OUT/check.log") 2>&1
step() { echo; echo "== $(date -u +%H:%M:%S) $*"; }
fail() { echo "device_check: $*" >&2; exit 1; }

step "0. set-up"
[ -x .device/arlab ] || fail ".device/arlab is missing: run scripts/device_build.sh here and carry .device"
built=$(cat .device/TORCH_VERSION)
if [ "$device" = cpu ]; then
  torch_dir=$PWD/.device-build/torch-${built%%+*}/torch have=$built
else
  torch_dir=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  have=$(python3 -c 'import torch; print(torch.__version__)')
fi
echo "arlab built against torch $built; this machine's python3 has torch $have at $torch_dir"
[ "$built" = "$have" ] || fail "torch differs: rebuild here with scripts/device_build.sh ${have%%+*}"
export LD_LIBRARY_PATH="$torch_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Scratch space outside the checkout, so that .device/ stays small enough to carry.
work=$(mktemp -d "${TMPDIR:-/tmp}/arlab-device-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/mnist-classic"
gunzip -c .device/mnist.npz.gz >"$work/mnist-classic/mnist.npz"
export ARLAB_MNIST_CLASSIC_DIR=$work/mnist-classic
arlab=.device/arlab

step "1. the machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
"$arlab" doctor | tee "$OUT/doctor.txt"
[ "$device" = cpu ] || grep -q "^CUDA available: true" "$OUT/doctor.txt" || fail "arlab does not see CUDA"

step "2. speed: arlab bench on $device"
# At most 150 s, so that the training step always runs; a bench cut
# short is reported, not fatal.
rc=0
timeout -s TERM 150 "$arlab" bench "$SPEC" "${bench_models[@]}" --device "$device" --batch 32 \
  --seconds 2 --samples 16 --out "$OUT/bench.csv" || rc=$?
[ "$rc" = 0 ] || echo "device_check: arlab bench ended with status $rc (124: cut at 150 s); going on"

step "3. training on $device: run $TASK of $SPEC for at most ${TRAIN_SECONDS} s"
results=$work/results
"$arlab" plan "$SPEC" --results "$results" "${small[@]}" | grep -E "^ +$TASK " || fail "no run $TASK in $SPEC"
start=$SECONDS
rc=0
timeout -s TERM -k 60 "$TRAIN_SECONDS" "$arlab" run "$SPEC" --task "$TASK" --results "$results" \
  "${small[@]}" || rc=$?
echo "arlab run: exit status $rc after $((SECONDS - start)) s (124: stopped by the time limit, as planned)"
[ "$rc" = 0 ] || [ "$rc" = 124 ] || fail "training failed"
run=$(ls -d "$results"/*/*/ | grep -v '/\.' | head -1)
cat "$run/log.txt"
[ -f "$run/checkpoints/best.ot" ] || fail "no epoch finished within ${TRAIN_SECONDS} s: raise TRAIN_SECONDS"

step "4. the same checkpoint's exact test log-likelihoods on $device and on the CPU"
"$arlab" eval "$run" --per-image "$work/eval_cuda.csv" | tee "$OUT/eval_cuda.txt"
CUDA_VISIBLE_DEVICES="" "$arlab" eval "$run" --per-image "$work/eval_cpu.csv" | tee "$OUT/eval_cpu.txt"
# cuDNN convolutions run in TF32 by default (libtorch's setting), so the two
# differ by rounding: the mean must agree to 0.05 nats/image.
"$python" - "$work/eval_cuda.npy" "$work/eval_cpu.npy" "$device" <<'PY'
import sys
import numpy as np
cuda, cpu = np.load(sys.argv[1]), np.load(sys.argv[2])
d = np.abs(cuda - cpu)
print(f"test NLL: {sys.argv[3]} {-cuda.mean():.4f}, CPU {-cpu.mean():.4f} nats/image over {len(d)} images; "
      f"per image |difference|: mean {d.mean():.2e}, max {d.max():.2e} nats")
sys.exit(0 if abs(cuda.mean() - cpu.mean()) < 0.05 else "device_check: CUDA and CPU disagree")
PY

tar czf "$OUT/run.tar.gz" --exclude=checkpoints -C "$results" .
step "done"
