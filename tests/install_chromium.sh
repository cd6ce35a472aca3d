#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing (Linux with apt-get).
# Elsewhere it says what to do and exits 0: the browser tests then skip, except under CI=true,
# where they fail instead.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Chromium not found and no apt-get here: install Chromium to run the browser tests." >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "Chromium not found: run 'apt-get install -y chromium' as root to run the browser tests." >&2
    exit 0
  fi
fi
echo "Installing Chromium for the browser tests (apt-get)..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
