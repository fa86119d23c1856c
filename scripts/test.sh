#!/usr/bin/env bash
# The test suite: set up what is missing, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Slurm and browser tests may not skip here: setup installed their tools.
ARLAB_REQUIRE_TOOLS=1 cargo test "$@"
