#!/usr/bin/env bash
# Runs the whole platform on this machine: `dotnet run --project AppHost`, after installing Debian's redis-server and
# postgresql when the AppHost will run them as local processes (no container engine with a bridge network, or
# LlmAspire__ServerHosting=LocalProcesses). Arguments go to the AppHost.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if [ "${LlmAspire__ServerHosting:-Auto}" != Containers ] \
   && { [ "${LlmAspire__ServerHosting:-Auto}" = LocalProcesses ] || ! "${ASPIRE_CONTAINER_RUNTIME:-docker}" network inspect bridge >/dev/null 2>&1; }; then
  eng/prerequisites.sh redis-server postgresql
fi

exec dotnet run --project AppHost -- "$@"
