#!/usr/bin/env bash
# Debian's python3-torch does its dense products through libblas.so.3, which is the reference
# (unoptimised) BLAS unless OpenBLAS is installed: the peer would then run ~2.5x below its best case.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "error: libblas.so.3 is '${blas:-missing}', not OpenBLAS, so PyTorch would not run in its best case; fix: apt-get install -y libopenblas0-pthread" >&2
     exit 2 ;;
esac
