#!/usr/bin/env bash
# Out-of-distribution detection both ways between Fashion-MNIST and MNIST,
# binarized (NADE, experiments/ood_{fashion,mnist}.yaml) and 8-bit (gated
# PixelCNN, experiments/ood_{fashion,mnist}_gray256.yaml), each with an
# independent-pixel background model: trains the four specs, then scores
# each model's own test images against the other data set's test images
# with all three anomaly scores. Reports: results/ood-*/vs-*/ (metrics.md,
# metrics.csv, scores.csv, histograms and ROC curves as PNG and SVG).
#   bash experiments/ood.sh                            # release build
#   ARLAB=./target/debug/arlab bash experiments/ood.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ARLAB:-}" ]; then
    cargo build --release --quiet
    ARLAB=./target/release/arlab
fi
RESULTS=${RESULTS:-results}

# detect EXPERIMENT RUN OTHER_SOURCE: run RUN of EXPERIMENT (in-distribution:
# its own test split) against OTHER_SOURCE, with the experiment's
# independent model as the background of the ratio score.
detect() {
    local exp="$RESULTS/$1"
    "$ARLAB" ood "$exp/$2" --out "$3" \
        --score loglik \
        --score "ratio:$exp/independent-raster-s0" \
        --score complexity \
        --report "$exp/vs-$3"
}

for spec in ood_fashion ood_mnist ood_fashion_gray256 ood_mnist_gray256; do
    "$ARLAB" run "experiments/$spec.yaml" --results "$RESULTS"
done
detect ood-fashion nade-h100-raster-s0 mnist
detect ood-mnist nade-h100-raster-s0 fashion-mnist
detect ood-fashion-gray256 gated_pixelcnn-small-raster-s0 mnist
detect ood-mnist-gray256 gated_pixelcnn-small-raster-s0 fashion-mnist
