#!/usr/bin/env bash
# Benchmark entry point: installs nginx (the reference proxy), Portkey's gateway (the peer gateway, from npm), redis-server
# and PostgreSQL when missing, builds the simulator, the gateway, the bare YARP forwarder and the load generator in Release,
# runs tools/Bench and writes docs/benchmarks.md.
#   eng/bench.sh           full run (about 25 minutes, more with --variant), writes docs/benchmarks.md
#   eng/bench.sh --quick   smoke run (under a minute), writes artifacts/benchmarks-quick.md
#   eng/bench.sh --quick --scenario ColdStart   one scenario (class name), for working on it
# Every server listens on 127.0.0.1 only and is stopped at the end (also on Ctrl+C).
set -euo pipefail
cd "$(dirname "$0")/.."

# The benchmark starts its own nginx, redis-server and PostgreSQL with generated settings; the packages' own services
# are not used. Only what is missing is installed, with one update.
eng/prerequisites.sh nginx redis-server postgresql npm

# The peer gateway, from npm at the versions its lock file names (no install scripts: it ships no patches to apply).
if [ ! -f eng/peers/portkey/node_modules/@portkey-ai/gateway/package.json ]; then
  npm ci --prefix eng/peers/portkey --no-audit --no-fund --ignore-scripts --loglevel=error
fi

# Thousands of idle streams hold a socket each in the client, the proxy and the simulator: raise the open-file limit
# (root may raise the hard limit too) for this run and the servers it starts.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for project in tools/VllmSimulator tools/ReferenceForwarder ModelManager Gateway.Api tools/Bench; do
  dotnet build "$project" -c Release --nologo -v quiet "-clp:ErrorsOnly;NoSummary"
done

out=docs/benchmarks.md
for arg in "$@"; do
  # A quick run is a smoke test; it does not replace the recorded results.
  if [ "$arg" = "--quick" ]; then out=artifacts/benchmarks-quick.md; fi
done

exec dotnet tools/Bench/bin/Release/net10.0/Bench.dll --repo "$PWD" --out "$out" "$@"
