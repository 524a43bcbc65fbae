#!/bin/sh
# Compiler/linker flags for binding.gyp: OpenBLAS location (pkg-config, else Debian's path) and the
# widest vector ISA this CPU has that we use (AVX2+FMA), so the elementwise loops vectorise.
case "$1" in
  cflags)
    inc=$(pkg-config --cflags openblas 2>/dev/null)
    [ -n "$inc" ] || inc="-I/usr/include/x86_64-linux-gnu/openblas-pthread -I/usr/include/openblas"
    arch=""
    if grep -q ' avx2 ' /proc/cpuinfo 2>/dev/null && grep -q ' fma ' /proc/cpuinfo 2>/dev/null; then
      arch="-mavx2 -mfma"
    fi
    echo "$inc $arch -O3 -fno-math-errno -fno-trapping-math -fassociative-math -fno-signed-zeros -std=c11 -Wall -Wno-unused-parameter"
    ;;
  libs)
    libs=$(pkg-config --libs openblas 2>/dev/null)
    [ -n "$libs" ] || libs="-lopenblas"
    # -ldl: oneDNN (bfloat16 products) is opened at run time, only when asked for
    echo "$libs -ldl"
    ;;
esac
