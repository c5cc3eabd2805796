#!/usr/bin/env bash
# Checks the system packages the local stack needs; as root it installs the missing ones with
# apt-get, otherwise it prints the exact command and fails. Used by `make` and by .ci/run.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

have python3.11 || missing+=(python3 python3-venv)
if ! have java || [[ "$(java_major)" != "17" && "$(java_major)" != "21" ]]; then
  missing+=(openjdk-17-jre-headless)
fi
have mvn || missing+=(maven)
have redis-server || missing+=(redis-server)
# Validates docker-compose.yml without an engine (`docker compose` or Debian's docker-compose).
if ! docker compose version >/dev/null 2>&1 && ! have docker-compose; then
  missing+=(docker-compose)
fi
have pgrep || missing+=(procps)
# The console (ui/) is built with Node.js and npm; its browser tests drive Debian's Chromium.
have npm || missing+=(nodejs npm)
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! have apt-get; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "fix: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if have java && [[ "$(java_major)" != "17" && "$(java_major)" != "21" ]]; then
  echo "java on PATH is $(java_major); set JAVA_HOME to /usr/lib/jvm/java-17-openjdk-amd64" >&2
fi
