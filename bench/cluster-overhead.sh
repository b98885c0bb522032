#!/usr/bin/env bash
# Cluster overhead, side by side in one run: training images/s of the single-process engine
# (1 and 2 threads), the cluster with 1 and 2 local workers (one engine thread each; 2 workers
# also with tensors over Akka.Remote chunks instead of the tensor link, and with mutual TLS), and PyTorch DDP
# (gloo, 2 processes x 1 thread) on the same model, batch and data. EPOCHS epochs each (default 1),
# all configurations in turn, ROUNDS times (default 1); prints one line per run (from the epoch
# row of metrics.jsonl) plus the parameter server's per-iteration time split and the Akka.Remote
# round trips measured during the run. images_per_sec is the last epoch's (later epochs run with
# every hot method compiled); each epoch's figure follows in brackets.
#
#   bench/cluster-overhead.sh MODEL DATA_DIR [EPOCHS] [ROUNDS]
#   bench/cluster-overhead.sh keras-mnist-cnn /usr/share/datasets/fashion-mnist 1 3
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?model}; data=${2:?data dir}; epochs=${3:-1}; rounds=${4:-1}
dotnet build src/Coordinator -c Release -v quiet -nologo >/dev/null
cli=src/Coordinator/bin/Release/net10.0/Distributed.Coordinator.dll
out=$(mktemp -d)
# workers-2-tls: the same 2-worker run with mutual TLS on Akka.Remote and the tensor links.
dotnet "$cli" certs init --out "$out/certs" --hosts 127.0.0.1 >/dev/null
common=(--model "$model" --epochs "$epochs" --batch 128 --lr 0.01 --momentum 0.9 --seed 0 --data-dir "$data")
run() {
  local name="$1 round=$round"; shift
  rm -rf "$out/run"
  dotnet "$cli" train "$@" "${common[@]}" --out "$out/run" >/dev/null
  python3 - "$out/run/metrics.jsonl" "$name" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"kind": "epoch"' in l or '"kind":"epoch"' in l]
last = rows[-1]
per_epoch = " ".join(f"{r['images_per_sec']:.0f}" for r in rows)
print(f"{sys.argv[2]:<30} images_per_sec={last['images_per_sec']:.0f} seconds={last['seconds']:.1f} samples={last['samples']} (each epoch: {per_epoch})")
PY
  local log="$out/run/logs/coordinator.log"
  grep -h "per iteration" "$log" 2>/dev/null | tail -1 | sed 's/.*: per iteration/  per iteration/; s/ {.*//' || true
  grep -h "round trip" "$log" 2>/dev/null | tail -1 | sed 's/.*(what heartbeats wait behind): /  akka.remote round trip: /; s/ {.*//' || true
}
for round in $(seq 1 "$rounds"); do
  run single-process-1t --single-process
  run single-process-2t --single-process --threads 2
  run workers-1 --workers 1
  run workers-2 --workers 2
  run workers-2-akka-chunks --workers 2 --no-tensor-link
  run workers-2-tls --workers 2 --tls-dir "$out/certs/127.0.0.1"
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null && bench/peers/require-openblas.sh; then
    printf '%-30s ' "pytorch-ddp-2x1 round=$round"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 \
      /usr/bin/python3 bench/peers/pytorch_ddp.py --model "$model" --processes 2 --threads 1 --batch 128 \
      --iterations 80 --data-dir "$data" | tail -1
  fi
done
rm -rf "$out"
