#!/usr/bin/env bash
# Whether changing par_sgemm's chunking would change bits, per OpenBLAS core this CPU can run:
# writes bench/results/chunk-bits-<cpu>.json (see bits.c). One thread, niced: it may run beside other work.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
gcc -O2 -o "$tmp/bits" bench/chunking/bits.c -lopenblas
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
slug=$(echo "$cpu" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-' | sed 's/-$//')
out=bench/results/chunk-bits-$slug.json
{
  echo "{\"cpu\": \"$cpu\", \"openblas\": \"$(dpkg-query -W -f '${Version}' libopenblas0-pthread 2>/dev/null || echo unknown)\", \"date\": \"$(date -u +%FT%TZ)\", \"cores\": {"
  first=1
  for core in Prescott Haswell SkylakeX Cooperlake; do
    [ $first = 1 ] || echo ","
    first=0
    printf '"%s": ' "$core"
    OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=$core nice -n 10 "$tmp/bits"
    echo "[medrel] chunk bits: $core done" >&2
  done
  echo "}}"
} > "$out.tmp"
python3 -m json.tool "$out.tmp" > "$out" && rm "$out.tmp"
rm -rf "$tmp"
python3 -c "
import json,sys; d=json.load(open('$out'))
for k,v in d['cores'].items(): print(f\"[medrel] {d['cpu']}, OpenBLAS {k} (ran {v['core']}): one call differs from our chunks in {v['oneCallDiffers']} of {v['shapes']} shapes, two chunks in {v['twoChunksDiffer']}\")
print('[medrel] wrote $out')"
