"""PyTorch single-process training peer of `train-throughput`: T threads, batch B, SGD lr 0.01
momentum 0.9 on real Fashion-MNIST; the first W iterations are not timed. Prints
'images_per_sec=<n>' last.

    /usr/bin/python3 bench/peers/pytorch_train.py --model keras-mnist-cnn --threads 1 --batch 128 --iterations 50

Run it in the peer's best case: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset,
MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296.
"""
import argparse
import time

import torch

import fmnist_models


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="keras-mnist-cnn", choices=sorted(fmnist_models.MODELS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = fmnist_models.build(args.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    images, labels = fmnist_models.load_fashion_mnist(args.data_dir)
    order = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(0))
    model.train()
    start = None
    for it in range(args.warmup + args.iterations):
        if it == args.warmup:
            start = time.perf_counter()
        idx = order[it * args.batch:(it + 1) * args.batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images[idx]), labels[idx])
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    print(f"model={args.model} threads={args.threads} batch={args.batch} iterations={args.iterations} seconds={seconds:.3f}")
    print(f"images_per_sec={args.iterations * args.batch / seconds:.1f}")


if __name__ == "__main__":
    main()
