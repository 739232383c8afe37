"""Emitted modules train: a step of SGD lowers the loss, torch.compile runs them on CPU,
and DistributedDataParallel steps them in two processes (gloo over loopback)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import archc

SMALL = """
archc: 1
name: small
input: [3, 16, 16]
params: {classes: 4}
blocks:
  Res:
    params: {c: int, stride: 1}
    residual:
      body:
        - conv1: conv(c, 3, stride=stride, padding=1, bias=false)
        - bn1: bn()
        - relu
        - conv2: conv(c, 3, padding=1, bias=false)
        - bn2: bn()
      shortcut: {downsample: [conv(c, 1, stride=stride, bias=false), bn()]}
      then: relu
layers:
  - stem: conv(8, 3, padding=1)
  - stages: {repeat: 2, each: 'Res(8 * (i + 1), stride=1 if i == 0 else 2)'}
  - branches: {parallel: {a: conv(4, 1), b: [maxpool(3, stride=1, padding=1), conv(4, 1)]}}
  - pool: adaptive_avgpool(1)
  - flatten
  - dropout: dropout(0.1)
  - fc: linear(classes)
"""


def small() -> torch.nn.Module:
    return archc.build(archc.load("small.yaml", text=SMALL))


def test_one_sgd_step_lowers_the_loss() -> None:
    torch.manual_seed(0)
    model = small()
    x, y = torch.randn(16, 3, 16, 16), torch.randint(0, 4, (16,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    for module in model.modules():  # the same forward before and after the step
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    model.train()
    before = loss_fn(model(x), y)
    opt.zero_grad()
    before.backward()
    opt.step()
    assert all(p.grad is not None for p in model.parameters())
    after = loss_fn(model(x), y)
    assert after.item() < before.item()


def test_torch_compile_on_cpu() -> None:
    torch.manual_seed(0)
    model = small().eval()
    x = torch.randn(2, 3, 16, 16)
    compiled = torch.compile(model)
    with torch.no_grad():
        assert torch.allclose(compiled(x), model(x), atol=1e-5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ddp_worker(rank: int, world: int, port: int, source: str, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from archc.emit import exec_source

        torch.manual_seed(0)  # same initial weights in both processes
        model = exec_source(source, "small").build()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
        torch.manual_seed(100 + rank)  # different data per process
        x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 4, (8,))
        loss = torch.nn.functional.cross_entropy(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        results[rank] = torch.cat([p.detach().flatten() for p in model.parameters()]).sum().item()
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_distributed_data_parallel_step_with_gloo() -> None:
    source = archc.compile_source(archc.load("small.yaml", text=SMALL))
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_ddp_worker, args=(2, _free_port(), source, results), nprocs=2, join=True)
        sums = dict(results)
    assert set(sums) == {0, 1}
    assert sums[0] == pytest.approx(sums[1], rel=1e-6), "gradients were averaged: both replicas agree"
