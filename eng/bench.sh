#!/usr/bin/env bash
# Benchmark entry point: installs nginx (the reference proxy) when missing, builds the simulator, the gateway and
# the load generator in Release, runs tools/Bench and writes docs/benchmarks.md.
#   eng/bench.sh           full run (about 5 minutes), writes docs/benchmarks.md
#   eng/bench.sh --quick   smoke run (under a minute), writes artifacts/benchmarks-quick.md
# Every server listens on 127.0.0.1 only and is stopped at the end (also on Ctrl+C).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "nginx is not installed: run this as root, or install Debian's nginx package first" >&2
    exit 1
  fi
  apt-get update
  # The benchmark starts its own nginx with a generated configuration; the package's own service is not used.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for project in tools/VllmSimulator Gateway.Api tools/Bench; do
  dotnet build "$project" -c Release --nologo -v quiet "-clp:ErrorsOnly;NoSummary"
done

out=docs/benchmarks.md
for arg in "$@"; do
  # A quick run is a smoke test; it does not replace the recorded results.
  if [ "$arg" = "--quick" ]; then out=artifacts/benchmarks-quick.md; fi
done

exec dotnet tools/Bench/bin/Release/net10.0/Bench.dll --repo "$PWD" --out "$out" "$@"
