#!/usr/bin/env bash
# device call 5: one quickstart run trained with all 16 threads against results/quickstart (made with 1)
export LD_LIBRARY_PATH=$PWD/.devlib
r=deltanet-eigen_range-1.0_1.0-s1-78bef8efa9f3
nproc; export OMP_NUM_THREADS=16  # --jobs 1 leaves the run at the OpenMP default: all 16 cores
( time .devbin/deltabench run experiments/quickstart.yaml --shard 0/9 --jobs 1 --out /tmp/qs16 --quiet ) 2>&1 | tail -3
python3 -c "
import sys; sys.path.insert(0, 'scripts')
from pathlib import Path
import compare_results as c
a, b = Path('/tmp/qs16/runs/$r'), Path('results/quickstart/runs/$r')
print('16 threads vs results/quickstart: weights identical:', c.tensors_digest(a / 'model.safetensors') == c.tensors_digest(b / 'model.safetensors'),
      '; curve identical:', c.curve_without_timing(a / 'curve.csv') == c.curve_without_timing(b / 'curve.csv'))
"
