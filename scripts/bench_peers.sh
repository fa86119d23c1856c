#!/usr/bin/env bash
# arlab beside the same networks written plainly in PyTorch
# (scripts/peer_models.py), model by model, in alternating rounds: arlab,
# then the peer with glibc's default allocator settings, then the peer with
# the allocator settings arlab sets for itself (see `tune_allocator` in
# src/lib.rs). Prints the figures with the time and the load before each.
#
#   bash scripts/bench_peers.sh [ROUNDS] [SECONDS]     (defaults 2, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${2:-5}
arlab=./target/release/arlab
python=.venv/bin/python
tuned=(env MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=268435456)
out=$(mktemp -d)
for round in $(seq 1 "$rounds"); do
  for model in fvsbn made pixelcnn gated_pixelcnn row_lstm diagonal_bilstm; do
    echo "=== round $round, $model, $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ "$model" = made ]; then
      spec=(experiments/model_family.yaml)
    else
      spec=()
    fi
    "$arlab" bench "${spec[@]}" --models "$model" --batch 100 --seconds "$seconds" \
      --samples 0 --out "$out/$model.csv" 2>/dev/null | grep '^| [a-z]' | grep -v '^| model' \
      | sed 's/^/arlab: /'
    "$python" scripts/peer_models.py "$seconds" 2 --models "$model" --batch 100 2>/dev/null \
      | sed 's/^/peer (default malloc): /'
    "${tuned[@]}" "$python" scripts/peer_models.py "$seconds" 2 --models "$model" --batch 100 2>/dev/null \
      | sed 's/^/peer (tuned malloc): /'
  done
done
