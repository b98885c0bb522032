#!/usr/bin/env bash
# Starts a coordinator and N workers as separate processes on this machine, the way a
# multi-host deployment runs them, and waits for the run to end.
#
#   deploy/local-cluster.sh N [train options...]
#   deploy/local-cluster.sh 2 --model keras-mnist-cnn --epochs 3 --out runs/local
#
# Every node talks mutual TLS with certificates made by 'certs init' (in CERTS, default a fresh
# temporary folder), as on real hosts.
#
# Environment: PORT (coordinator port, default 4053), DATA_DIR (Fashion-MNIST folder),
# CONFIGURATION (Release), CERTS (certificate folder; reused if it already holds 127.0.0.1/).
set -euo pipefail
cd "$(dirname "$0")/.."

workers=${1:?usage: deploy/local-cluster.sh N [train options...]}
shift
port=${PORT:-4053}
config=${CONFIGURATION:-Release}
data=()
[ -n "${DATA_DIR:-}" ] && data=(--data-dir "$DATA_DIR")

dotnet build src/Coordinator -c "$config" -v quiet -nologo >/dev/null
bin=src/Coordinator/bin/$config/net10.0
certs=${CERTS:-$(mktemp -d)}
[ -f "$certs/127.0.0.1/node.crt" ] || dotnet "$bin/Distributed.Coordinator.dll" certs init --out "$certs" --hosts 127.0.0.1 >/dev/null
tls=(--tls-dir "$certs/127.0.0.1")

dotnet "$bin/Distributed.Coordinator.dll" train --workers 0 --min-workers "$workers" \
  --host 127.0.0.1 --port "$port" "${tls[@]}" "${data[@]}" "$@" &
coordinator=$!

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; kill "$coordinator" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

for i in $(seq 1 "$workers"); do
  dotnet "$bin/Distributed.Worker.dll" --seed-node "akka.ssl.tcp://distributed@127.0.0.1:$port" "${tls[@]}" \
    --worker-id "worker-$i" "${data[@]}" &
  pids+=($!)
done

status=0
wait "$coordinator" || status=$?
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
trap - EXIT
exit "$status"
