#!/usr/bin/env bash
# Build the OpenBLAS kernels addon (src/backend/native/build/Release/medrel_native.node) offline from
# source. Idempotent: skips when the .node is newer than its sources. Never fails setup: on any error it
# prints one line and exits 0, and the product then runs on pure WASM.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="$here/build/Release/medrel_native.node"
log="$here/build.log"

if [ "${MEDREL_NATIVE:-1}" = "0" ]; then
  echo "[medrel] native kernels: skipped (MEDREL_NATIVE=0)"
  exit 0
fi
if [ -f "$out" ] && [ "$out" -nt "$here/medrel_native.c" ] && [ "$out" -nt "$here/pool.c" ] && [ "$out" -nt "$here/pool.h" ] && [ "$out" -nt "$here/binding.gyp" ] && [ "$out" -nt "$here/flags.sh" ]; then
  echo "[medrel] native kernels: up to date ($out)"
  exit 0
fi

gyp="$root/node_modules/.bin/node-gyp"
[ -x "$gyp" ] || gyp="$(command -v node-gyp || true)"
if [ -z "$gyp" ]; then
  echo "[medrel] native kernels: not built (node-gyp not found); running on pure WASM"
  exit 0
fi
# Prefer the system Node headers (offline); fall back to node-gyp's own download/cache.
nodedir_args=()
if [ -f /usr/include/node/node_api.h ]; then nodedir_args=(--nodedir=/usr); fi

if (cd "$here" && "$gyp" rebuild "${nodedir_args[@]}" >"$log" 2>&1) && [ -f "$out" ] &&
   node -e "require(process.argv[1]).blasInfo()" "$out" >>"$log" 2>&1; then
  echo "[medrel] native kernels: built $out"
else
  reason="$(grep -m1 -iE 'error|cannot|not found|undefined' "$log" 2>/dev/null | cut -c1-160)"
  echo "[medrel] native kernels: build failed (${reason:-see $log}); running on pure WASM"
  rm -f "$out"
fi
exit 0
