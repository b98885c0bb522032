#!/usr/bin/env python3
"""Writes the first TRAIN training and TEST test images of Fashion-MNIST (gzip IDX) into OUT, for
benchmarks that need a shorter epoch: bench/make-subset.py /usr/share/datasets/fashion-mnist /tmp/fm12k 12000 2000"""
import gzip, struct, sys, os

def copy(src, dst, count):
    with gzip.open(src, 'rb') as f:
        data = f.read()
    magic, n = struct.unpack('>II', data[:8])
    dims = (magic & 0xFF) - 1
    shape = struct.unpack('>' + 'I' * dims, data[8:8 + 4 * dims])
    per = 1
    for d in shape:
        per *= d
    count = min(count, n)
    header = struct.pack('>II', magic, count) + data[8:8 + 4 * dims]
    start = 8 + 4 * dims
    with gzip.open(dst, 'wb') as f:
        f.write(header + data[start:start + count * per])

src, out, train, test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out, exist_ok=True)
for prefix, count in (('train', train), ('t10k', test)):
    for kind in ('images-idx3-ubyte', 'labels-idx1-ubyte'):
        name = f'{prefix}-{kind}.gz'
        copy(os.path.join(src, name), os.path.join(out, name), count)
print(f'{out}: {train} training and {test} test images')
