"""OpenBLAS SGEMM GFLOP/s on an n x n x n product (row-major, no transposes), best of 10 after 3
warm-up calls: the yardstick for the engine's GEMM outside BenchmarkDotNet.

    env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/peers/openblas_sgemm.py 1024
"""
import ctypes
import sys
import time

import numpy as np

lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_get_corename.restype = ctypes.c_char_p
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
a = np.random.rand(n, n).astype(np.float32)
b = np.random.rand(n, n).astype(np.float32)
c = np.zeros((n, n), np.float32)
ptr = ctypes.c_void_p
sgemm = lib.cblas_sgemm
sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ptr, ctypes.c_int, ptr, ctypes.c_int, ctypes.c_float, ptr, ctypes.c_int]


def run():
    sgemm(101, 111, 111, n, n, n, 1.0, a.ctypes.data, n, b.ctypes.data, n, 0.0, c.ctypes.data, n)


for _ in range(3):
    run()
best = float("inf")
for _ in range(10):
    start = time.perf_counter()
    run()
    best = min(best, time.perf_counter() - start)
print(f"core={lib.openblas_get_corename().decode()} n={n} gflops={2 * n ** 3 / best / 1e9:.1f}")
