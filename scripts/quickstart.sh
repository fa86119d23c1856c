#!/usr/bin/env bash
# The quickstart: set up what is missing, build arlab (release), and run
# experiments/quickstart.yaml. Results: results/quickstart/comparison.md
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
./target/release/arlab run experiments/quickstart.yaml "$@"
