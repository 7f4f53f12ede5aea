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
# ModelManager's Docker runtime tests) and the AppHost tests run as local-process resources, and Debian's chromium, in
# which the AppHost tests look at the Aspire dashboard through Playwright (it never downloads a browser here). Only what
# is missing is installed.
eng/prerequisites.sh redis-server postgresql docker.io chromium

dotnet build LlmAspire.sln -c Release

status=0
# Every test project runs at once (as `dotnet test --solution` would), each with a results directory of its own: TRX
# files are named by user, machine and start time, so two projects starting together would overwrite each other's.
# The outer timeout keeps a hung run from eating the CI budget.
projects=(tests/*/*.Tests.csproj)
pids=()
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  timeout 45m dotnet test --project "$project" -c Release --no-build \
    --results-directory "$PWD/$results/$name" --report-xunit-trx > "$results/$name.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
for project in "${projects[@]}"; do
  cat "$results/$(basename "$project" .csproj).log"
done

passed=0 failed=0 skipped=0
shopt -s nullglob
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  trx_files=("$results/$name"/*.trx)
  if [ "${#trx_files[@]}" -eq 0 ]; then
    # A project that crashed or hung wrote no results: it counts as a failure, not as nothing.
    echo "$name produced no test results" >&2
    failed=$((failed + 1))
    continue
  fi
  for trx in "${trx_files[@]}"; do
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    value() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
    passed=$((passed + $(value passed)))
    failed=$((failed + $(value failed) + $(value error) + $(value timeout) + $(value aborted)))
    skipped=$((skipped + $(value notExecuted)))
  done
done

if [ $((passed + failed)) -eq 0 ]; then
  echo "no test results were produced" >&2
  status=1
fi
if [ "$failed" -gt 0 ]; then
  status=1
fi

echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
