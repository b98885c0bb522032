#!/usr/bin/env bash
# Stragglers: training images/s of one full-speed worker alone, and of that worker with a second
# one slowed to a third of its speed (Worker --throttle 3: after each shard it sleeps twice the
# time the shard took). With shards sized by measured speed the pair must not be slower than the
# fast worker alone; an equal split would make every iteration wait for the slow worker's half,
# 1.5x the fast worker's time for the whole batch.
#
#   bench/straggler.sh MODEL DATA_DIR [EPOCHS]
#   bench/straggler.sh keras-mnist-cnn /tmp/fm12k 1
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?model}; data=${2:?data dir}; epochs=${3:-1}
dotnet build src/Coordinator -c Release -v quiet -nologo >/dev/null
bin=src/Coordinator/bin/Release/net10.0
out=$(mktemp -d)
port=${PORT:-4073}
train=(--model "$model" --epochs "$epochs" --batch 128 --lr 0.01 --momentum 0.9 --seed 0 --data-dir "$data")

report() {
  python3 - "$out/$1/metrics.jsonl" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
last = [r for r in rows if r.get("kind") == "epoch"][-1]
ms = 1000 * last["seconds"] / last["iterations"]
print(f"{sys.argv[2]:<34} {last['images_per_sec']:7.0f} img/s  {ms:6.1f} ms per iteration")
PY
}

dotnet "$bin/Distributed.Coordinator.dll" train --workers 1 "${train[@]}" --out "$out/alone" >/dev/null
report alone "fast worker alone"

dotnet "$bin/Distributed.Coordinator.dll" train --workers 0 --min-workers 2 --host 127.0.0.1 --port "$port" --insecure \
  "${train[@]}" --out "$out/pair" >/dev/null &
coordinator=$!
dotnet "$bin/Distributed.Worker.dll" --seed-node "akka.tcp://distributed@127.0.0.1:$port" --insecure --worker-id fast --data-dir "$data" >/dev/null 2>&1 &
dotnet "$bin/Distributed.Worker.dll" --seed-node "akka.tcp://distributed@127.0.0.1:$port" --insecure --worker-id slow --throttle 3 --data-dir "$data" >/dev/null 2>&1 &
wait "$coordinator"
wait
report pair "fast + slow (--throttle 3)"
echo "equal split (estimate): 1.5 x the fast worker's time per iteration alone"
rm -rf "$out"
