#!/usr/bin/env bash
# The catapult regime (issue 32, item 4; notebook 05, section 9 states the prediction and its rule before the runs):
# full-batch runs the round map calls unstable at their starting sharpness, at learning rates below the bisections'
# η_c, so that most train anyway. EASGD (α 0.225), EAMSGD (α 0.225, δ 0.5) and DOWNPOUR (τ 1) at p = 4, three learning
# rates each, three seeds; 200 steps per worker, the loss every round (4 total steps), the center's sharpness every
# 23 total steps (odd). catapult.py measures each run's sharpness drop and loss spike against the map's h* at its η.
# Usage: benchmarks/validation/catapult.sh   (OUT, JOBS, SEEDS, STEPS can be overridden)
set -euo pipefail
cd "$(dirname "$0")/../.."
export OUT=${OUT:-.build/validation/catapult} STEPS=${STEPS:-200} SHARPNESS_EVERY=23 EVAL_EVERY=4 \
  ANALYSIS=benchmarks/validation/catapult.py SETTINGS="
easgd 4 1 0.225 - 0.4
easgd 4 1 0.225 - 0.6
easgd 4 1 0.225 - 0.9
eamsgd 4 1 0.225 0.5 0.3
eamsgd 4 1 0.225 0.5 0.45
eamsgd 4 1 0.225 0.5 0.6
downpour 4 1 - - 0.1
downpour 4 1 - - 0.17
downpour 4 1 - - 0.3
"
exec benchmarks/validation/elastic-eos-law.sh
