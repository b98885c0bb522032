#!/usr/bin/env bash
# Partition drill (root; not part of CI): a coordinator and 3 workers, each in its own network
# namespace on a bridge (coordinator 10.77.0.1, worker-N 10.77.0.1N). CUT_AT seconds into training,
# worker-1's link goes down for CUT_FOR seconds; after the heal worker-1 is started again (same id).
# Expected: training goes on with the other two, the cut worker is downed (the Split Brain Resolver
# keeps the coordinator's side) and its process exits, the restarted worker re-joins. Prints the
# timeline: the drill's own steps and the coordinator's events from metrics.jsonl.
#
#   sudo deploy/partition.sh [EPOCHS] [more train options...]
#   DATA_DIR=/tmp/fm12k CUT_AT=15 CUT_FOR=40 deploy/partition.sh 6
#
# Environment: DATA_DIR, CUT_AT (default 20), CUT_FOR (default 40), OUT (default: a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "deploy/partition.sh needs root (network namespaces)" >&2; exit 2; }

epochs=${1:-3}
shift || true
cut_at=${CUT_AT:-20}
cut_for=${CUT_FOR:-40}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
data=()
[ -n "${DATA_DIR:-}" ] && data=(--data-dir "$DATA_DIR")
bridge=dtr0
nodes=(c w1 w2 w3)
declare -A address=([c]=10.77.0.1 [w1]=10.77.0.11 [w2]=10.77.0.12 [w3]=10.77.0.13)

dotnet build src/Coordinator -c Release -v quiet -nologo >/dev/null
bin=$PWD/src/Coordinator/bin/Release/net10.0
# --insecure below: an experiment inside private network namespaces; deploy/local-cluster.sh shows the TLS set-up.
seed="akka.tcp://distributed@${address[c]}:4053"

timeline() { echo "$(date +%T.%3N) $*" | tee -a "$out/timeline.txt"; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for n in "${nodes[@]}"; do ip netns del "dtr-$n" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
cleanup
ip link add "$bridge" type bridge
ip addr add 10.77.0.254/24 dev "$bridge"
ip link set "$bridge" up
for n in "${nodes[@]}"; do
  ip netns add "dtr-$n"
  ip link add "veth-$n" type veth peer name eth0 netns "dtr-$n"
  ip link set "veth-$n" master "$bridge" up
  ip -n "dtr-$n" addr add "${address[$n]}/24" dev eth0
  ip -n "dtr-$n" link set eth0 up
  ip -n "dtr-$n" link set lo up
done

start_worker() { # n
  local n=$1 id="worker-${1#w}"
  ip netns exec "dtr-$n" dotnet "$bin/Distributed.Worker.dll" --seed-node "$seed" --insecure --host "${address[$n]}" --port 4054 \
    --worker-id "$id" "${data[@]}" --log-dir "$out/logs-$n" > "$out/$n.out" 2>&1 &
  pids+=($!)
  worker_pid[$n]=$!
  timeline "started $id in namespace dtr-$n (${address[$n]}), pid $!"
}
declare -A worker_pid=()

ip netns exec dtr-c dotnet "$bin/Distributed.Coordinator.dll" train --workers 0 --min-workers 2 --host "${address[c]}" --port 4053 --insecure \
  --model keras-mnist-cnn --epochs "$epochs" --batch 128 --lr 0.01 --momentum 0.9 "${data[@]}" --out "$out/run" "$@" > "$out/coordinator.out" 2>&1 &
coordinator=$!
pids+=($coordinator)
timeline "started the coordinator in dtr-c (${address[c]}:4053), pid $coordinator"
for n in w1 w2 w3; do start_worker "$n"; done

until grep -q '"worker_joined"' "$out/run/metrics.jsonl" 2>/dev/null; do sleep 1; done
sleep "$cut_at"
timeline "cut: veth-w1 down (worker-1 can reach no one)"
ip link set veth-w1 down
sleep "$cut_for"
ip link set veth-w1 up
timeline "heal: veth-w1 up"
if kill -0 "${worker_pid[w1]}" 2>/dev/null; then
  timeline "worker-1 (pid ${worker_pid[w1]}) still running after the heal; stopping it"
  kill "${worker_pid[w1]}" 2>/dev/null || true
else
  timeline "worker-1 (pid ${worker_pid[w1]}) had exited: $(grep -h 'shut down\|downing\|exit' "$out/w1.out" | tail -1)"
fi
start_worker w1

wait "$coordinator" || timeline "the coordinator exited with $?"
timeline "run finished: $(grep '^test:' "$out/coordinator.out" || echo 'no test line')"
python3 - "$out/run/metrics.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("kind") == "event":
        print(f"{r['time'][11:23]} event {r['event']}: {r['detail']} (iteration {r['iteration']})")
    elif r.get("kind") == "epoch":
        print(f"          epoch {r['epoch']}: {r['samples']} samples, {r['workers']} workers, {r['images_per_sec']:.0f} img/s")
PY
echo "logs and timeline: $out"
