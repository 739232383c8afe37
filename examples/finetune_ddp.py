"""Fine-tune a pretrained ResNet-18 with frozen stages and a new head, on one process or many.

The chapter the seed texts end with: take a pretrained backbone, freeze it, replace the head,
fine-tune. The network is examples/resnet18_shapes.yaml, a variant of archc's resnet18 (the
torchvision layout) with a 4-way head and `freeze:`; the weights are a torchvision-layout
checkpoint, ported with `archc.port` (the stem and stages copied, the new head initialised);
the training loop is plain PyTorch with DistributedDataParallel:

    torchrun --standalone --nproc_per_node=2 examples/finetune_ddp.py --checkpoint resnet18.pth

(gloo on CPUs, NCCL when every process has a GPU). Without ``--checkpoint`` it stands in a
freshly initialised resnet18 for the pretrained one. The task is synthetic and learnable:
each class is a fixed random pattern under noise, made identically on every process, each of
which trains on its own shard. At the end it checks what fine-tuning promises and exits 1 if
any check fails: the frozen tensors (weights and the frozen norms' running statistics) are
bit-identical to the checkpoint's, the trainable ones changed, the loss is finite and fell,
and every process holds the same parameters.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import archc

HERE = Path(__file__).resolve().parent
SPEC = HERE / "resnet18_shapes.yaml"


def synthetic_task(n: int, classes: int, shape: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images: class k is pattern k plus noise (the same on every process: one seed)."""
    g = torch.Generator().manual_seed(seed)
    patterns = torch.randn(classes, *shape, generator=g)
    labels = torch.randint(classes, (n,), generator=g)
    images = patterns[labels] + torch.randn(n, *shape, generator=g)
    return images, labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="a torchvision-layout resnet18 state_dict (.pth)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16, help="per process")
    parser.add_argument("--samples", type=int, default=256, help="in all, shared among the processes")
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args(argv)

    distributed = "RANK" in os.environ  # started by torchrun
    cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu")
    say = print if rank == 0 else (lambda *a, **k: None)

    # the weights: a torchvision-layout checkpoint, ported onto the variant (strict: only the
    # replaced head may be new)
    torch.manual_seed(0)  # the stand-in checkpoint: the same on every process, as a file would be
    checkpoint = args.checkpoint or archc.build("resnet18").state_dict()
    ported = archc.port(checkpoint, "resnet18", str(SPEC), strict=True)
    say(ported.summary())
    torch.manual_seed(0)  # the new head: the same on every process (DDP also broadcasts rank 0's)
    model = archc.build(str(SPEC), state_dict=ported.state_dict).to(device)
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    say(f"trainable tensors: {len(trainable)}, frozen: {len(frozen)} "
        f"({sum(p.numel() for p in model.parameters() if not p.requires_grad):,} parameters frozen)")

    net = DistributedDataParallel(model, device_ids=[device.index] if cuda else None) if distributed else model
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=args.lr, momentum=0.9)
    images, labels = synthetic_task(args.samples, 4, archc.analyze(str(SPEC)).input_shape)
    mine = torch.arange(rank, args.samples, world)  # this process's shard, as DistributedSampler deals it
    losses = []
    for epoch in range(args.epochs):
        net.train()
        order = mine[torch.randperm(len(mine), generator=torch.Generator().manual_seed(epoch))]
        total = torch.zeros(2, device=device)
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            x, y = images[idx].to(device), labels[idx].to(device)
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += torch.stack([loss.detach() * len(idx), torch.tensor(float(len(idx)), device=device)])
        if distributed:
            dist.all_reduce(total)
        losses.append((total[0] / total[1]).item())
        say(f"epoch {epoch + 1}: loss {losses[-1]:.4f}")

    # what fine-tuning promises
    state = model.state_dict()
    frozen_state = [k for k in state if k.rpartition(".")[0] in _frozen_modules(model)]
    checks = {
        "frozen tensors bit-identical": all(torch.equal(state[k], start[k]) for k in frozen_state),
        "trainable tensors changed": all(not torch.equal(state[k], start[k]) for k in trainable),
        "loss finite and falling": all(math.isfinite(v) for v in losses) and losses[-1] < losses[0],
    }
    if distributed:
        # the parameters (each process's running statistics follow its own last batches; DDP
        # broadcasts rank 0's at the start of every forward)
        flat = torch.cat([p.detach().double().flatten() for p in model.parameters()])
        everyone = [torch.empty_like(flat) for _ in range(world)]
        dist.all_gather(everyone, flat)
        checks["every process holds the same parameters"] = all(torch.equal(everyone[0], f) for f in everyone)
    for what, ok in checks.items():
        if rank == 0 or not ok:  # every process checks its own copy; a failure anywhere is shown
            print(f"{'ok ' if ok else 'FAILED'} {what}" + (f" (rank {rank})" if rank else ""))
    say(f"{len(frozen_state)} frozen tensors (weights and running statistics), {len(trainable)} trainable, "
        f"{world} process{'es' if world > 1 else ''}")
    if distributed:
        dist.destroy_process_group()
    return 0 if all(checks.values()) else 1


def _frozen_modules(model: torch.nn.Module) -> set[str]:
    """Modules all of whose parameters are frozen (their buffers too must not change: their norms
    run in eval mode)."""
    out = set()
    for name, module in model.named_modules():
        params = list(module.parameters(recurse=False))
        if params and not any(p.requires_grad for p in params):
            out.add(name)
    return out


if __name__ == "__main__":
    sys.exit(main())
