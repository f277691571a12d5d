#!/usr/bin/env bash
# Builds the profiling addon (native/build/Release/effbench_native.node) and the fake NVML libraries the tests
# use (native/build/fake-nvml/libnvidia-ml.so.1 and native/build/fake-nvml/old-driver/libnvidia-ml.so.1).
# Idempotent and fast: each output is rebuilt only when a source is newer (or with --force).
# A missing compiler or missing Node headers is not an error: the project runs without the addon and reports
# its metrics as unavailable, so this prints why and exits 0. A compile error is an error (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
tools=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --with-tools) tools=1 ;;  # also native/build/nvml-check, the Node-less sampler driver for GPU machines
    *) echo "usage: scripts/build-native.sh [--force] [--with-tools]" >&2; exit 2 ;;
  esac
done
out=native/build
addon="$out/Release/effbench_native.node"

say() { echo "build-native: $*"; }

# newer_than OUTPUT SOURCES...: true when OUTPUT is missing or older than a source.
stale() {
  local target=$1; shift
  [ "$force" = 1 ] && return 0
  [ -f "$target" ] || return 0
  for src in "$@"; do [ "$src" -nt "$target" ] && return 0; done
  return 1
}

cc=${CC:-cc}
cxx=${CXX:-g++}
if ! command -v "$cc" >/dev/null 2>&1 && command -v gcc >/dev/null 2>&1; then cc=gcc; fi
if ! command -v "$cxx" >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1; then cxx=c++; fi

# The fake NVML (C): a full library and an "old driver" one without the energy counter,
# ClocksEventReasons and the _v2/_v3 process queries.
if command -v "$cc" >/dev/null 2>&1; then
  src=native/fake-nvml/fake_nvml.c
  for variant in full old-driver; do
    if [ "$variant" = full ]; then lib="$out/fake-nvml/libnvidia-ml.so.1"; flags=(); else lib="$out/fake-nvml/old-driver/libnvidia-ml.so.1"; flags=(-DFAKE_NVML_OLD_DRIVER); fi
    if stale "$lib" "$src" "$0"; then
      mkdir -p "$(dirname "$lib")"
      "$cc" -shared -fPIC -O2 -Wall -Wextra "${flags[@]}" -o "$lib" "$src" -lpthread
      say "built $lib"
    fi
  done
else
  say "no C compiler ($cc): the fake NVML library is not built (the GPU-path tests need it)"
fi

if ! command -v "$cxx" >/dev/null 2>&1; then
  say "no C++ compiler ($cxx): the profiling addon is not built; memory/energy/utilisation metrics will be reported unavailable"
  exit 0
fi

sources=(native/src/*.cc native/src/*.h native/binding.gyp "$0")
if [ "$tools" = 1 ] && stale "$out/nvml-check" "${sources[@]}" native/tools/nvml-check.cc; then
  mkdir -p "$out"
  "$cxx" -O2 -std=c++17 -Wall -Wextra -include native/src/glibc-compat.h native/tools/nvml-check.cc \
    $(ls native/src/*.cc | grep -v addon.cc) -o "$out/nvml-check" -ldl -lpthread
  say "built $out/nvml-check"
fi
if ! stale "$addon" "${sources[@]}"; then
  say "$addon is up to date"
  exit 0
fi

# Node's headers: $npm_config_nodedir (nodedir=/usr on these machines), else next to the node binary.
nodedir=${npm_config_nodedir:-}
if [ -z "$nodedir" ]; then
  nodebin=$(command -v node)
  for candidate in "$(dirname "$(dirname "$(readlink -f "$nodebin")")")" /usr /usr/local; do
    if [ -f "$candidate/include/node/node_api.h" ]; then nodedir=$candidate; break; fi
  done
fi
if [ -z "$nodedir" ] || [ ! -f "$nodedir/include/node/node_api.h" ]; then
  say "no Node headers found (set npm_config_nodedir): the profiling addon is not built; its metrics will be reported unavailable"
  exit 0
fi
addon_api=$(node -p "require('node-addon-api').include_dir" 2>/dev/null || true)
if [ -z "$addon_api" ] || [ ! -f "$addon_api/napi.h" ]; then
  say "node-addon-api is not installed (npm ci first): the profiling addon is not built"
  exit 0
fi

# node-gyp: the project's, else the one npm bundles (no network needed with nodedir set).
gyp=""
if [ -x node_modules/.bin/node-gyp ]; then
  gyp=node_modules/.bin/node-gyp
else
  npm_cli=$(readlink -f "$(command -v npm 2>/dev/null || echo /nonexistent)" 2>/dev/null || true)
  bundled="$(dirname "$(dirname "$npm_cli")")/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$bundled" ] && gyp="node $bundled"
fi

start=$(date +%s)
if [ -n "$gyp" ]; then
  $gyp rebuild --directory native --nodedir="$nodedir" --jobs "$(nproc)" --loglevel=warn
else
  # No node-gyp: the same flags as binding.gyp, by hand.
  say "node-gyp not found; compiling with $cxx directly"
  mkdir -p "$out/Release"
  "$cxx" -shared -fPIC -O2 -std=c++17 -Wall -Wextra -fexceptions -include native/src/glibc-compat.h \
    -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -DBUILDING_NODE_EXTENSION \
    -I"$nodedir/include/node" -I"$addon_api" native/src/*.cc -o "$addon" -ldl -lpthread
fi

# The addon is carried to GPU machines with older systems: refuse symbols newer than glibc 2.17 / GCC 6.
if command -v objdump >/dev/null 2>&1; then
  too_new=$(objdump -T "$addon" | grep -E 'GLIBC_2\.(1[89]|[2-9][0-9])|GLIBCXX_3\.4\.(2[3-9]|[3-9][0-9])' || true)
  if [ -n "$too_new" ]; then
    say "warning: $addon needs a newer glibc/libstdc++ than 2.17/GCC 6; it may not load on older GPU machines:"
    echo "$too_new"
  fi
fi
node -e "const a=require('./$addon'); if (typeof a.Sampler !== 'function') throw new Error('no Sampler export')"
say "built $addon in $(( $(date +%s) - start )) s"
