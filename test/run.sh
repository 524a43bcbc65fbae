#!/usr/bin/env bash
# The whole test suite: typecheck, then every test file with node's own runner (CI reads its summary).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== typecheck"
npx tsc -p tsconfig.test.json
echo "== build dist/ (what the notebooks import)"
npx tsc -p tsconfig.build.json
echo "== tests"
mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=1 "${files[@]}"
