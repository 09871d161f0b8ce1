#!/usr/bin/env python3
"""PyTorch (eager) reference for ONE meta-iteration of Ravi & Larochelle (ICLR 2017),
"Optimization as a Model for Few-Shot Learning" -- the baseline lopt is compared to.

It is the straightforward implementation a researcher would write (in the style of
github.com/markdtw/meta-learning-lstm-pytorch), following the semantics of
shared/DESIGN.md section 1:

  learner     conv4: 4 x [conv3x3(32, pad 1, bias) -> batchnorm(eps 1e-3, batch
              statistics; affine scale/shift are learner parameters) -> ReLU ->
              maxpool 2x2] -> flatten -> linear(ways) -> softmax cross-entropy (mean).
              All learner parameters live in ONE flat vector theta, used through
              slices (functional forward), so the meta-learner can write theta.
  meta-learner, coordinate-wise (batch = number of learner parameters):
              x_t = [preproc(loss) (broadcast), preproc(grad)]          (4 inputs)
              h_t, c_t = LSTM(x_t, h_{t-1}, c_{t-1})                    (4 -> 20)
              f_t = W_F . [h_t, theta_{t-1}, f_{t-1}] + b_F
              i_t = W_I . [h_t, theta_{t-1}, i_{t-1}] + b_I
              theta_t = sigmoid(f_t) * theta_{t-1} - sigmoid(i_t) * grad_t
              meta-parameters: LSTM weight (24x80) + bias, W_F, b_F, W_I, b_I, theta_0.
  meta-iteration (first-order truncation): T inner steps on the support set, each
              computing the learner loss and gradient at a *detached* copy of theta
              (torch.autograd.grad, no create_graph: loss and gradient are constants
              for the meta-gradient, while the backward pass still runs through
              theta, f, i and the LSTM state across all T steps); the gradient is
              additionally divided by the inner batch size (the reference code's
              "grad_batch_divide" quirk). Then the query loss at theta_T (batch
              statistics), backward to the meta-parameters, global-norm clip 0.25,
              one Adam(lr 1e-3) step.

Episodes are synthetic (random images, random labels with every class present):
only the cost of a meta-iteration is measured. Prints one JSON line.

--device cuda puts everything (meta-parameters, Adam state, episode, batch-norm
running statistics, meta-learner state) on the GPU. Episodes are drawn on the CPU
with the same generator as on --device cpu (same data for a seed) and copied to the
GPU before the timer starts; the timer starts and stops after torch.cuda.synchronize().
FP32 convolutions and matrix products are strict IEEE FP32 unless --tf32 (PyTorch's
own defaults are TF32 convolutions and FP32 matmuls; jax_reference.py has the same
switch, so both frameworks can be compared on equal terms).

Example (Mini-ImageNet 5-way 1-shot):
  bench/.venv/bin/python bench/torch_reference.py --shots 1 --size 84 --channels 3 \
      --steps 12 --inner-batch 5 --bn-momentum 0.9 --iters 5 --warmup 1 --threads 2
  (on a GPU: add --device cuda, and more --iters/--warmup)
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

from reference_common import (BN_EPS, CLIP_NORM, FILTERS, HIDDEN, META_LR, PREPROC_P,
                              add_episode_arguments, episode_fields,
                              finish_episode_arguments, learner_layout)


# --------------------------------------------------------------------------- learner

def unflatten(theta, layout):
    """Views of the flat parameter vector, one per learner tensor."""
    out, off = {}, 0
    flat = theta.view(-1)
    for name, shape, _ in layout:
        n = math.prod(shape)
        out[name] = flat[off:off + n].view(shape)
        off += n
    return out


def init_theta(layout):
    """Reference learner initialisation: conv/linear U(-1/sqrt(fan_in), +), BN scale
    U(0, 1), BN shift 0. Returned as a column (n, 1), the meta-learner's cell state."""
    parts = []
    for name, shape, fan_in in layout:
        if name.endswith(".scale"):
            t = torch.rand(shape)
        elif name.endswith(".shift"):
            t = torch.zeros(shape)
        else:
            bound = 1.0 / math.sqrt(fan_in)
            t = torch.empty(shape).uniform_(-bound, bound)
        parts.append(t.reshape(-1))
    return torch.cat(parts).unsqueeze(1)


def learner_loss(theta, layout, x, y, running, bn_momentum):
    """conv4 forward + mean cross-entropy with parameters taken from theta.

    Batch norm always normalises with batch statistics (training mode, as in
    meta-training); the per-episode running statistics in `running` are updated as a
    side effect (they would be used at meta-test time). PyTorch's momentum
    convention is used: running = (1 - m) * running + m * batch, as in the PyTorch
    reference code (BatchNorm2d(momentum=bn_momentum))."""
    p = unflatten(theta, layout)
    h = x
    for b in range(4):
        h = F.conv2d(h, p[f"conv{b}.w"], p[f"conv{b}.b"], padding=1)
        h = F.batch_norm(h, running[b][0], running[b][1], p[f"bn{b}.scale"],
                         p[f"bn{b}.shift"], training=True, momentum=bn_momentum, eps=BN_EPS)
        h = F.max_pool2d(F.relu(h), 2)
    logits = F.linear(h.flatten(1), p["fc.w"], p["fc.b"])
    return F.cross_entropy(logits, y)


# ------------------------------------------------------------------------ meta-learner

def preprocess(x):
    """Andrychowicz et al. preprocessing, p = 10:
    x -> (log|x| / p, sign x) if |x| >= e^-p, else (-1, e^p x). (n, 1) -> (n, 2)."""
    big = x.abs() >= math.exp(-PREPROC_P)
    log_abs = x.abs().clamp_min(torch.finfo(x.dtype).tiny).log()   # clamp: no log(0)
    a = torch.where(big, log_abs / PREPROC_P, torch.full_like(x, -1.0))
    b = torch.where(big, x.sign(), x * math.exp(PREPROC_P))
    return torch.cat([a, b], dim=1)


class MetaLearner(torch.nn.Module):
    """Two-layer coordinate-wise meta-learner; theta_0 (learned init) included."""

    def __init__(self, theta0):
        super().__init__()
        u = lambda *shape: torch.nn.Parameter(torch.empty(*shape).uniform_(-0.01, 0.01))
        # Layer 1: one (4 + 20) x (4 * 20) weight and a bias; gate order i, f, o, g.
        self.lstm_w = u(4 + HIDDEN, 4 * HIDDEN)
        self.lstm_b = u(4 * HIDDEN)
        # Layer 2: W_F, W_I act on [h (20), theta (1), previous f or i (1)].
        self.w_f = u(HIDDEN + 2, 1)
        self.w_i = u(HIDDEN + 2, 1)
        self.b_f = torch.nn.Parameter(torch.empty(1).uniform_(4.0, 5.0))
        self.b_i = torch.nn.Parameter(torch.empty(1).uniform_(-5.0, -4.0))
        self.theta0 = torch.nn.Parameter(theta0)

    def lstm(self, x, h, c):
        gates = torch.addmm(self.lstm_b, torch.cat([x, h], dim=1), self.lstm_w)
        i, f, o, g = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def step(self, loss, grad, theta, state):
        """One update: (loss scalar, grad (n,1), theta (n,1)) -> theta_t, new state."""
        h, c, f, i = state
        n = theta.shape[0]
        x = torch.cat([preprocess(loss.view(1, 1)).expand(n, 2), preprocess(grad)], dim=1)
        h, c = self.lstm(x, h, c)
        f = torch.cat([h, theta, f], dim=1) @ self.w_f + self.b_f
        i = torch.cat([h, theta, i], dim=1) @ self.w_i + self.b_i
        theta = torch.sigmoid(f) * theta - torch.sigmoid(i) * grad
        return theta, (h, c, f, i)


# ---------------------------------------------------------------------- meta-iteration

def make_episode(args, gen, device):
    """Synthetic N-way K-shot episode: random images, labels with every class present.
    Drawn on the CPU (device-independent data for a seed), then copied to `device`."""
    def split(per_class):
        n = args.ways * per_class
        x = torch.randn(n, args.channels, args.size, args.size, generator=gen)
        y = torch.arange(args.ways).repeat_interleave(per_class)[torch.randperm(n, generator=gen)]
        return x.to(device), y.to(device)
    return split(args.shots), split(args.queries)


def meta_iteration(meta, opt, layout, episode, args, learner_fn):
    (xs, ys), (xq, yq) = episode
    n, dev = meta.theta0.shape[0], meta.theta0.device
    # Per-episode batch-norm running statistics (reset every episode).
    running = [(torch.zeros(FILTERS, device=dev), torch.ones(FILTERS, device=dev))
               for _ in range(4)]
    zeros = lambda k: torch.zeros(n, k, device=dev)
    state = (zeros(HIDDEN), zeros(HIDDEN), zeros(1), zeros(1))   # h, c, f_0, i_0
    theta = meta.theta0
    B, S = args.inner_batch, xs.shape[0]
    for t in range(args.steps):
        # Inner batch: consecutive chunks of the support set (the whole set when B = S).
        idx = torch.arange(t * B, (t + 1) * B, device=dev) % S
        xb, yb = (xs, ys) if B == S else (xs[idx], ys[idx])
        # First-order truncation: learner loss and gradient at a detached theta.
        theta_d = theta.detach().requires_grad_()
        loss = learner_fn(theta_d, layout, xb, yb, running, args.bn_momentum)
        (grad,) = torch.autograd.grad(loss, theta_d)
        grad = grad / B                      # grad_batch_divide quirk
        theta, state = meta.step(loss.detach(), grad, theta, state)
    # Meta-loss: query loss at theta_T, batch statistics.
    meta_loss = learner_fn(theta, layout, xq, yq, running, args.bn_momentum)
    opt.zero_grad(set_to_none=True)
    meta_loss.backward()
    torch.nn.utils.clip_grad_norm_(meta.parameters(), CLIP_NORM)
    opt.step()
    return meta_loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_episode_arguments(ap)
    ap.add_argument("--bn-momentum", type=float, default=0.9)
    ap.add_argument("--warmup", type=int, default=1, help="untimed meta-iterations first")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (intra-op)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--tf32", action="store_true",
                    help="allow TF32 in CUDA convolutions and matmuls (default: strict FP32)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the learner forward")
    args = finish_episode_arguments(ap.parse_args())

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        # Legacy switches (the only ones set here, so no legacy/new API mix).
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    layout = learner_layout(args.channels, args.size, args.ways)
    # Initialised on the CPU (same values as --device cpu for a seed), then moved;
    # the optimizer is built on the moved parameters, so its state lives there too.
    meta = MetaLearner(init_theta(layout)).to(device)
    opt = torch.optim.Adam(meta.parameters(), lr=META_LR)
    learner_fn = torch.compile(learner_loss) if args.compile else learner_loss
    n_params = meta.theta0.shape[0]

    times = []
    for it in range(args.warmup + args.iters):
        episode = make_episode(args, gen, device)  # not timed
        if cuda and it == args.warmup:
            # Peak device memory over the timed iterations only: reset after warm-up
            # (Adam state, allocator pools and cuDNN workspaces already exist; the
            # current episode and the meta-parameters count from here on).
            sync()
            torch.cuda.reset_peak_memory_stats(device)
        sync()                                     # copies done before the clock starts
        t0 = time.perf_counter()
        meta_loss = meta_iteration(meta, opt, layout, episode, args, learner_fn)
        sync()                                     # (meta_loss.item() already waits)
        dt = (time.perf_counter() - t0) * 1e3
        if it >= args.warmup:
            times.append(dt)
        if args.verbose:
            print(f"iter {it}: {dt:.1f} ms, meta-loss {meta_loss:.4f}", file=sys.stderr)

    print(json.dumps({
        "impl": "pytorch-compile" if args.compile else "pytorch-eager",
        "torch": torch.__version__,
        "device": args.device,
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "tf32": args.tf32 if cuda else None,
        "threads": args.threads,
        "bn_momentum": args.bn_momentum,
        **episode_fields(args, times),
        "peak_device_mb": (round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                           if cuda else None),
        "params": n_params,
    }))


if __name__ == "__main__":
    main()
