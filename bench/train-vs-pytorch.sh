#!/usr/bin/env bash
# Single-process training images/s, ours against PyTorch, alternately in one run: for each model
# and thread count, ROUNDS rounds of (ours, PyTorch), batch 128, SGD lr 0.01 momentum 0.9.
#
#   bench/train-vs-pytorch.sh [DATA_DIR] [ITERATIONS] [ROUNDS] [MODELS]
#
# MODELS is a quoted, space-separated list (default: all three). seed-simple needs a few hundred
# iterations to run for seconds rather than fractions of one, so the full data set.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/usr/share/datasets/fashion-mnist}; iterations=${2:-50}; rounds=${3:-3}
models=${4:-seed-simple keras-mnist-cnn mobilenet-mini}
bench/peers/require-openblas.sh
dotnet build bench/Engine.Benchmarks -c Release -v quiet -nologo >/dev/null
ours=bench/Engine.Benchmarks/bin/Release/net10.0/Engine.Benchmarks.dll
for model in $models; do
  for threads in 1 2; do
    for round in $(seq 1 "$rounds"); do
      a=$(dotnet "$ours" train-throughput --model "$model" --threads "$threads" --batch 128 --iterations "$iterations" --data-dir "$data" | tail -1)
      b=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 \
          /usr/bin/python3 bench/peers/pytorch_train.py --model "$model" --threads "$threads" --batch 128 --iterations "$iterations" --data-dir "$data" | tail -1)
      echo "$model threads=$threads round=$round ours_${a} pytorch_${b}"
    done
  done
done
