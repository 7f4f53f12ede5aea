#!/usr/bin/env bash
# The whole test suite: restores and builds, runs every test project against real
# servers on loopback, and ends with one line "N passed, N failed, N skipped" computed from the TRX files.
set -euo pipefail
cd "$(dirname "$0")/.."

results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# Server binaries the fixtures start as private instances on loopback (redis-server, PostgreSQL, the Docker engine for
# ModelManager's Docker runtime tests), Debian's chromium, which the dashboard tests drive through Playwright (it never
# downloads a browser here), and docker-compose, which checks the AppHost's compose output. Only what is missing is
# installed.
eng/prerequisites.sh redis-server postgresql docker.io chromium docker-compose

dotnet build LlmAspire.sln -c Release

status=0
# Microsoft.Testing.Platform runs every test project of the solution (see global.json); each writes a TRX.
# The outer timeout keeps a hung run from eating the CI budget.
timeout 45m dotnet test --solution LlmAspire.sln -c Release --no-build \
  --results-directory "$PWD/$results" \
  --report-xunit-trx || status=$?

passed=0 failed=0 skipped=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  value() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(value passed)))
  failed=$((failed + $(value failed) + $(value error) + $(value timeout) + $(value aborted)))
  skipped=$((skipped + $(value notExecuted)))
done

trx_count=$(ls "$results"/*.trx 2>/dev/null | wc -l)
if [ "$trx_count" -eq 0 ] || [ $((passed + failed)) -eq 0 ]; then
  echo "no test results were produced" >&2
  status=1
fi
if [ "$failed" -gt 0 ]; then
  status=1
fi

echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
