#!/usr/bin/env bash
# One-shot set-up for a fresh Debian machine (run as root) or an existing one: skips what is present.
#   1. npm dependencies (lockfile; optional GPU/native TF packages may fail to load — that is fine)
#   2. Debian packages: Jupyter (nbconvert, nbclient, ipykernel) to run notebooks headless, Jupyter Notebook 6
#      for `npm run notebook`, OpenBLAS + build tools for the native CPU kernels, Chromium for the chart and
#      Jupyter UI tests, python3-torch / python3-sklearn for the reference checks and benches
#   3. this checkout's tslab kernel (.cache/jupyter, found through JUPYTER_PATH by npm run notebook, npm start
#      and the tests), so two checkouts never re-point each other's notebooks
#   4. the native OpenBLAS addon (falls back to pure WASM with one line if it cannot build)
#   5. the TypeScript build (dist/) that notebooks import
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[setup] $*"; }

# --- 1. npm ---------------------------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
else
  say "npm dependencies present"
fi

# --- 2. Debian packages ---------------------------------------------------------------------------
APT_PKGS=(jupyter-nbconvert python3-nbclient python3-ipykernel jupyter-notebook libopenblas-dev libdnnl2 g++ make chromium fonts-wqy-microhei python3-torch python3-sklearn)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    say "missing Debian packages (run as root, or: sudo apt-get install ${missing[*]})"
  fi
else
  say "Debian packages present"
fi

# --- 3. tslab kernel ------------------------------------------------------------------------------
# a kernelspec inside this checkout, not a machine-wide `tslab install` (the last checkout to run setup would win)
npx tsx src/cli/notebook.ts --register-kernel

# --- 4. native kernels ----------------------------------------------------------------------------
if [ -x src/backend/native/build.sh ]; then
  bash src/backend/native/build.sh || say "native kernels not built; training runs on pure WASM"
fi

# --- 5. TypeScript build for notebooks ------------------------------------------------------------
say "building dist/ (notebooks import it)"
npx tsc -p tsconfig.build.json
say "done. Next: npm test, then npm start"
