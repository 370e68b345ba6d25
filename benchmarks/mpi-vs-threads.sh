#!/bin/bash
# The MPI backend against the threads backend on the same run: the paper's CIFAR net on the CIFAR-10 copy, EASGD,
# p = 2, τ = 10, batch 128, STEPS steps per worker, evaluated only at the start and the end. MPI runs as three
# ranks (master + 2 workers) on this machine. The two backends alternate, ROUNDS times each; printed are the wall
# seconds at the last record of every run (one initial evaluation included on both) and the median ratio.
#
#   benchmarks/mpi-vs-threads.sh            (make bench runs it; EASGD, DATA, STEPS, ROUNDS may be set)
set -euo pipefail

EASGD=${EASGD:-.build/release/easgd}
DATA=${DATA:-../shared/data/cifar10-jpeg}
STEPS=${STEPS:-60}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-.build/bench/mpi-vs-threads}

if [ ! -d "$DATA" ]; then echo "mpi-vs-threads: no CIFAR-10 copy at $DATA; skipped" >&2; exit 0; fi
if ! command -v mpirun >/dev/null; then echo "mpi-vs-threads: mpirun not found (make deps installs openmpi-bin)" >&2; exit 1; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

rm -rf "$OUT"
mkdir -p "$OUT"
common=(train --method easgd --data "$DATA" --net cifar --workers 2 --tau 10 --lr 0.002 --batch 128 --steps "$STEPS"
        --eval-every 1000000 --quiet)
last_seconds() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["seconds"])' "$1/metrics.jsonl"; }

threads=() mpi=()
for round in $(seq "$ROUNDS"); do
    "$EASGD" "${common[@]}" --backend threads --out "$OUT/threads-$round" 2>/dev/null
    mpirun --oversubscribe -np 3 "$EASGD" "${common[@]}" --backend mpi --out "$OUT/mpi-$round" 2>/dev/null
    t=$(last_seconds "$OUT/threads-$round") m=$(last_seconds "$OUT/mpi-$round")
    threads+=("$t") mpi+=("$m")
    printf 'round %d: threads %.2f s, mpi %.2f s\n' "$round" "$t" "$m"
done
python3 - "${threads[*]}" "${mpi[*]}" <<'EOF'
import statistics, sys
t = [float(x) for x in sys.argv[1].split()]
m = [float(x) for x in sys.argv[2].split()]
ratios = [b / a for a, b in zip(t, m)]
print(f"median: threads {statistics.median(t):.2f} s, mpi {statistics.median(m):.2f} s, "
      f"mpi/threads {statistics.median(ratios):.3f} (per round: {', '.join(f'{r:.3f}' for r in ratios)}; target <= 1.15)")
EOF
