#!/usr/bin/env bash
# Cluster overhead: training images/s of the single-process engine against the cluster with
# 1 and 2 local workers (one engine thread each), same model, batch and data, one epoch each.
# Prints one line per configuration, taken from the epoch row of metrics.jsonl.
#
#   bench/cluster-overhead.sh MODEL DATA_DIR [EPOCHS]
#   bench/cluster-overhead.sh keras-mnist-cnn /usr/share/datasets/fashion-mnist
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?model}; data=${2:?data dir}; epochs=${3:-1}
dotnet build src/Coordinator -c Release -v quiet -nologo >/dev/null
cli=src/Coordinator/bin/Release/net10.0/Distributed.Coordinator.dll
out=$(mktemp -d)
common=(--model "$model" --epochs "$epochs" --batch 128 --lr 0.01 --momentum 0.9 --seed 0 --data-dir "$data")
run() {
  local name=$1; shift
  dotnet "$cli" train "$@" "${common[@]}" --out "$out/$name" >/dev/null
  python3 - "$out/$name/metrics.jsonl" "$name" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"kind": "epoch"' in l or '"kind":"epoch"' in l]
last = rows[-1]
print(f"{sys.argv[2]:<16} images_per_sec={last['images_per_sec']:.0f} seconds={last['seconds']:.1f} samples={last['samples']}")
PY
  grep -h "per iteration" "$out/$name/logs/coordinator.log" 2>/dev/null | tail -1 | sed 's/.*: per iteration/  per iteration/; s/ {.*//' || true
}
run single-process --single-process
run workers-1 --workers 1
run workers-2 --workers 2
rm -rf "$out"
