#!/usr/bin/env bash
# Chaos run: full Fashion-MNIST training with 3 worker processes, once without faults and once
# while a random worker is killed (SIGKILL, restarted under a new id after DOWN seconds) or
# stopped (SIGSTOP, continued after DOWN seconds) every INTERVAL seconds. Prints a table: kills,
# stops, re-assigned and timed-out shards, samples per epoch, final test accuracy of both runs.
# Not part of CI (it trains for minutes).
#
#   deploy/chaos.sh [EPOCHS] [more train options...]
#   INTERVAL=20 DOWN=8 deploy/chaos.sh 3 --model keras-mnist-cnn --batch 128 --lr 0.01 --momentum 0.9
#
# Environment: DATA_DIR (Fashion-MNIST folder), INTERVAL (default 20), DOWN (default 8),
# PORT (default 4063), OUT (default: a temporary folder, kept and printed).
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=${1:-3}
shift || true
interval=${INTERVAL:-20}
down=${DOWN:-8}
port=${PORT:-4063}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
data=()
[ -n "${DATA_DIR:-}" ] && data=(--data-dir "$DATA_DIR")
train=(--model keras-mnist-cnn --epochs "$epochs" --batch 128 --lr 0.01 --momentum 0.9 --seed 0 "${data[@]}" "$@")

dotnet build src/Coordinator -c Release -v quiet -nologo >/dev/null
bin=src/Coordinator/bin/Release/net10.0
seed="akka.tcp://distributed@127.0.0.1:$port"

declare -A workers=()   # worker id -> pid
start_worker() {
  # --insecure: a loopback drill, measured so since before TLS; deploy/local-cluster.sh shows the TLS set-up.
  dotnet "$bin/Distributed.Worker.dll" --seed-node "$seed" --insecure --worker-id "$1" "${data[@]}" >/dev/null 2>&1 &
  workers[$1]=$!
}
stop_all() {
  for pid in "${workers[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; done
  workers=()
}
trap stop_all EXIT INT TERM

# run NAME CHAOS: trains into $out/NAME; with CHAOS=1 injects faults until the coordinator exits.
run() {
  local name=$1 chaos=$2
  kills=0; stops=0; generation=0
  dotnet "$bin/Distributed.Coordinator.dll" train --workers 0 --min-workers 3 --host 127.0.0.1 --port "$port" --insecure \
    --out "$out/$name" "${train[@]}" > "$out/$name.out" 2>&1 &
  local coordinator=$!
  for i in 1 2 3; do start_worker "worker-$i"; done
  local next=$((SECONDS + interval))
  while kill -0 "$coordinator" 2>/dev/null; do
    sleep 1
    [ "$chaos" = 1 ] && [ "$SECONDS" -ge "$next" ] || continue
    next=$((SECONDS + interval))
    local ids=("${!workers[@]}") victim pid
    victim=${ids[$((RANDOM % ${#ids[@]}))]}
    pid=${workers[$victim]}
    if [ $((RANDOM % 2)) = 0 ]; then
      kills=$((kills + 1)); generation=$((generation + 1))
      echo "$(date +%T) SIGKILL $victim (pid $pid); a new worker joins in ${down} s" >> "$out/$name.faults"
      kill -KILL "$pid" 2>/dev/null || true
      unset "workers[$victim]"
      ( sleep "$down" ) ; start_worker "worker-r$generation"
    else
      stops=$((stops + 1))
      echo "$(date +%T) SIGSTOP $victim (pid $pid) for ${down} s" >> "$out/$name.faults"
      kill -STOP "$pid" 2>/dev/null || true
      sleep "$down"
      kill -CONT "$pid" 2>/dev/null || true
    fi
  done
  wait "$coordinator" || echo "$name: the coordinator exited with $?" >&2
  stop_all
  echo "$kills $stops" > "$out/$name.counts"
}

run clean 0
run chaos 1

python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
def summary(name):
    rows = [json.loads(l) for l in open(os.path.join(out, name, "metrics.jsonl"))]
    events = [r for r in rows if r.get("kind") == "event"]
    count = lambda e: sum(1 for r in events if r["event"] == e)
    epochs = [r["samples"] for r in rows if r.get("kind") == "epoch"]
    test = next((r for r in rows if r.get("kind") == "test"), None)
    kills, stops = open(os.path.join(out, name + ".counts")).read().split()
    return dict(kills=kills, stops=stops, reassigned=count("shard_reassigned"), timed_out=count("shard_timed_out"),
                left=count("worker_left"), paused=count("paused"), samples=" ".join(map(str, epochs)),
                top1=f"{test['top1']:.4f}" if test else "none")
clean, chaos = summary("clean"), summary("chaos")
keys = ["kills", "stops", "reassigned", "timed_out", "left", "paused", "samples", "top1"]
print(f"| run | {' | '.join(keys)} |")
print("|---" * (len(keys) + 1) + "|")
for name, s in (("without faults", clean), ("with faults", chaos)):
    print(f"| {name} | {' | '.join(str(s[k]) for k in keys)} |")
if clean["top1"] != "none" and chaos["top1"] != "none":
    print(f"test top-1 difference: {100 * (float(chaos['top1']) - float(clean['top1'])):+.2f} percentage points")
print(f"run folders and fault logs: {out}")
PY
