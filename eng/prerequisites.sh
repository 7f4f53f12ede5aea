#!/usr/bin/env bash
# Installs the Debian packages behind the named prerequisites when they are missing, with one apt-get update:
#   redis-server    redis-server
#   postgresql      PostgreSQL's initdb/postgres (Debian installs them under /usr/lib/postgresql/<version>/bin)
#   docker.io       the Docker engine (dockerd with containerd and runc)
#   chromium        Debian's chromium (the AppHost tests drive it through Playwright)
#   nginx           nginx (the benchmark's reverse-proxy baseline)
#   npm             Node.js and npm (the benchmark's peer gateway comes from npm)
set -euo pipefail

missing=()
for prerequisite in "$@"; do
  case "$prerequisite" in
    redis-server) command -v redis-server >/dev/null 2>&1 || missing+=(redis-server) ;;
    postgresql) compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql) ;;
    docker.io) command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io) ;;
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
    nginx) command -v nginx >/dev/null 2>&1 || missing+=(nginx) ;;
    npm) command -v npm >/dev/null 2>&1 || missing+=(npm) ;;
    *) echo "unknown prerequisite '$prerequisite'" >&2; exit 2 ;;
  esac
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing prerequisites: ${missing[*]}; run as root or install these Debian packages first" >&2
    exit 1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
