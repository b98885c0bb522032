"""PyTorch DistributedDataParallel peer: P processes x T threads (gloo on loopback), global
batch B split evenly, SGD with momentum; prints 'images_per_sec=<n>' for the timed iterations.

    /usr/bin/python3 bench/peers/pytorch_ddp.py --model keras-mnist-cnn --processes 2 --threads 1 --batch 128 --iterations 100

Run it in the peer's best case: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset,
MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296.
"""
import argparse
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

import fmnist_models


def worker(rank, args, result):
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}", rank=rank, world_size=args.processes)
    torch.manual_seed(args.seed)
    model = DistributedDataParallel(fmnist_models.build(args.model))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    images, labels = fmnist_models.load_fashion_mnist(args.data_dir)
    local = args.batch // args.processes
    generator = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(images.shape[0], generator=generator)
    model.train()
    start = None
    for it in range(args.warmup + args.iterations):
        if it == args.warmup:
            dist.barrier()
            start = time.perf_counter()
        base = (it * args.batch) % (images.shape[0] - args.batch)
        idx = order[base + rank * local: base + (rank + 1) * local]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images[idx]), labels[idx])
        loss.backward()
        optimizer.step()
    dist.barrier()
    if rank == 0:
        result.put(args.iterations * args.batch / (time.perf_counter() - start))
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="keras-mnist-cnn", choices=sorted(fmnist_models.MODELS))
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--port", type=int, default=29517)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args()
    ctx = mp.get_context("spawn")
    result = ctx.Queue()
    mp.spawn(worker, args=(args, result), nprocs=args.processes, join=True)
    print(f"images_per_sec={result.get():.1f}")


if __name__ == "__main__":
    main()
