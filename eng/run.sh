#!/usr/bin/env bash
# Runs the whole platform on this machine: installs the local Redis and PostgreSQL servers when Docker cannot provide
# them (no engine, or no redis/postgres image), then `dotnet run --project AppHost`. Arguments go to the AppHost.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# The images the AppHost's Redis and PostgreSQL resources run (AppHost.Hosting/Extensions).
if ! { command -v docker >/dev/null 2>&1 \
       && docker image inspect docker.io/library/redis:8.2 docker.io/library/postgres:17.6 >/dev/null 2>&1; }; then
  eng/prerequisites.sh redis-server postgresql
fi

exec dotnet run --project AppHost -- "$@"
