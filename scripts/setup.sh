#!/usr/bin/env bash
# Installs what the full test suite needs beyond npm packages: Debian packages (Chromium for the report's
# browser test, GNU time, SQLite headers), the native profiling addon, and the torch runner's Python env.
# Idempotent; each step says what it did or why it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing ${need_apt[*]} — install them (apt-get install ${need_apt[*]}); the tests that need them will fail"
  fi
fi

if [ -x scripts/build-native.sh ]; then bash scripts/build-native.sh || echo "setup: native addon not built (profiling metrics will be reported unavailable)"; fi
bash scripts/setup-python.sh
