#!/usr/bin/env python3
"""JAX (one jax.jit) reference for ONE meta-iteration of Ravi & Larochelle (ICLR 2017),
"Optimization as a Model for Few-Shot Learning" -- the same meta-iteration as
torch_reference.py (see its docstring and shared/DESIGN.md section 1), written as a
JAX user would: pure functions over a pytree of meta-parameters, the whole
meta-iteration compiled by XLA as one program.

  learner     conv4: 4 x [conv3x3(32, pad 1, bias) -> batchnorm(eps 1e-3, batch
              statistics, affine from theta) -> ReLU -> maxpool 2x2] -> flatten ->
              linear(ways) -> softmax cross-entropy (mean); all learner parameters in
              ONE flat vector theta (n, 1), used through static slices.
  meta-learner, coordinate-wise: x_t = [preproc(loss), preproc(grad)] -> LSTM(4 -> 20)
              -> f_t, i_t from [h_t, theta_{t-1}, f_{t-1} / i_{t-1}] ->
              theta_t = sigmoid(f_t) * theta_{t-1} - sigmoid(i_t) * grad_t.
  meta-iteration (first-order truncation), inside one jax.jit:
              T inner steps on the support set, each taking the learner loss and
              gradient (jax.value_and_grad) at lax.stop_gradient(theta), so both are
              constants for the meta-gradient, gradient divided by the inner batch
              size (the reference's "grad_batch_divide" quirk); query loss at theta_T
              with batch statistics; jax.value_and_grad of that over the
              meta-parameters; global-norm clip 0.25 (as torch's clip_grad_norm_,
              including its 1e-6); Adam(lr 1e-3, betas 0.9/0.999, eps 1e-8) written
              out as torch.optim.Adam computes it (no optax dependency).

Differences from torch_reference.py, none of which changes the meta-loss or the
meta-gradient:
  - batch-norm running statistics are omitted: training mode normalises with batch
    statistics, and the running ones are never read during meta-training (the
    PyTorch reference only updates them as a side effect); hence no --bn-momentum.
  - the T inner steps are a lax.scan (the learner forward/backward is traced and
    compiled once, so compile time does not grow with T); --unroll unrolls the scan
    completely instead (one straight-line program, longer compile).
  - random numbers: meta-parameters and episodes come from jax.random, so values
    differ from the PyTorch script for the same --seed (same distributions).

Episodes are synthetic (random images, labels with every class present), drawn by a
separate jitted function on the device, a new one per iteration, and waited for
before the timer starts (not timed). Timing: wall clock around the jitted call plus
jax.block_until_ready of its outputs; the warm-up iterations (at least 1) include
compilation and are not timed. --device gpu runs on jax.devices("gpu")[0].

FP32 convolutions and matrix products run at full FP32 precision
(jax_default_matmul_precision "highest") unless --tf32, as in torch_reference.py.
peak_device_mb is the device allocator's peak_bytes_in_use (memory_stats()), which
cannot be reset: it covers the whole process, warm-up and compilation included
(None where the backend keeps no statistics, e.g. on the CPU). Prints one JSON line.

Example (Mini-ImageNet 5-way 1-shot on a GPU):
  python bench/jax_reference.py --shots 1 --size 84 --channels 3 --steps 12 \\
      --inner-batch 5 --queries 15 --iters 20 --warmup 3 --device gpu
"""
import argparse
import functools
import json
import math
import sys
import time

import jax
import jax.numpy as jnp
from jax import lax

from reference_common import (BN_EPS, CLIP_NORM, HIDDEN, META_LR, PREPROC_P,
                              add_episode_arguments, episode_fields,
                              finish_episode_arguments, learner_layout)

ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-8   # torch.optim.Adam defaults


# --------------------------------------------------------------------------- learner

def unflatten(theta, layout):
    """Static slices of the flat parameter vector, one per learner tensor."""
    out, off, flat = {}, 0, theta.reshape(-1)
    for name, shape, _ in layout:
        n = math.prod(shape)
        out[name] = flat[off:off + n].reshape(shape)
        off += n
    return out


def init_theta(key, layout):
    """Reference learner initialisation: conv/linear U(-1/sqrt(fan_in), +), BN scale
    U(0, 1), BN shift 0. Returned as a column (n, 1), the meta-learner's cell state."""
    parts = []
    for (name, shape, fan_in), k in zip(layout, jax.random.split(key, len(layout))):
        if name.endswith(".scale"):
            t = jax.random.uniform(k, shape)
        elif name.endswith(".shift"):
            t = jnp.zeros(shape)
        else:
            bound = 1.0 / math.sqrt(fan_in)
            t = jax.random.uniform(k, shape, minval=-bound, maxval=bound)
        parts.append(t.reshape(-1))
    return jnp.concatenate(parts)[:, None]


def batch_norm(h, scale, shift):
    """Training-mode batch norm over (N, H, W): batch mean, biased batch variance."""
    mean = h.mean(axis=(0, 2, 3), keepdims=True)
    var = jnp.square(h - mean).mean(axis=(0, 2, 3), keepdims=True)
    h = (h - mean) * lax.rsqrt(var + BN_EPS)
    return h * scale[None, :, None, None] + shift[None, :, None, None]


def learner_loss(theta, layout, x, y):
    """conv4 forward + mean cross-entropy with parameters taken from theta (batch
    statistics in batch norm)."""
    p = unflatten(theta, layout)
    h = x
    for b in range(4):
        h = lax.conv_general_dilated(h, p[f"conv{b}.w"], window_strides=(1, 1),
                                     padding=((1, 1), (1, 1)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        h = h + p[f"conv{b}.b"][None, :, None, None]
        h = batch_norm(h, p[f"bn{b}.scale"], p[f"bn{b}.shift"])
        h = jax.nn.relu(h)
        # maxpool 2x2, stride 2, VALID: floors odd sizes like F.max_pool2d.
        h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    logits = h.reshape(h.shape[0], -1) @ p["fc.w"].T + p["fc.b"]
    logp = jax.nn.log_softmax(logits)
    return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()


# ------------------------------------------------------------------------ meta-learner

def preprocess(x):
    """Andrychowicz et al. preprocessing, p = 10:
    x -> (log|x| / p, sign x) if |x| >= e^-p, else (-1, e^p x). (n, 1) -> (n, 2)."""
    big = jnp.abs(x) >= math.exp(-PREPROC_P)
    log_abs = jnp.log(jnp.maximum(jnp.abs(x), jnp.finfo(x.dtype).tiny))   # no log(0)
    a = jnp.where(big, log_abs / PREPROC_P, -1.0)
    b = jnp.where(big, jnp.sign(x), x * math.exp(PREPROC_P))
    return jnp.concatenate([a, b], axis=1)


def init_meta(key, layout):
    """Meta-parameters (a dict pytree): the layer-1 LSTM, W_F/b_F, W_I/b_I, theta_0;
    same shapes and distributions as torch_reference.MetaLearner."""
    k = jax.random.split(key, 7)
    u = lambda k, *shape: jax.random.uniform(k, shape, minval=-0.01, maxval=0.01)
    return {
        "lstm_w": u(k[0], 4 + HIDDEN, 4 * HIDDEN),     # gate order i, f, o, g
        "lstm_b": u(k[1], 4 * HIDDEN),
        "w_f": u(k[2], HIDDEN + 2, 1),                 # acts on [h, theta, f_prev]
        "w_i": u(k[3], HIDDEN + 2, 1),                 # acts on [h, theta, i_prev]
        "b_f": jax.random.uniform(k[4], (1,), minval=4.0, maxval=5.0),
        "b_i": jax.random.uniform(k[5], (1,), minval=-5.0, maxval=-4.0),
        "theta0": init_theta(k[6], layout),
    }


def meta_step(mp, loss, grad, theta, state):
    """One update: (loss scalar, grad (n,1), theta (n,1)) -> theta_t, new state."""
    h, c, f, i = state
    n = theta.shape[0]
    x = jnp.concatenate([jnp.broadcast_to(preprocess(loss.reshape(1, 1)), (n, 2)),
                         preprocess(grad)], axis=1)
    gates = jnp.concatenate([x, h], axis=1) @ mp["lstm_w"] + mp["lstm_b"]
    gi, gf, go, gg = jnp.split(gates, 4, axis=1)
    c = jax.nn.sigmoid(gf) * c + jax.nn.sigmoid(gi) * jnp.tanh(gg)
    h = jax.nn.sigmoid(go) * jnp.tanh(c)
    f = jnp.concatenate([h, theta, f], axis=1) @ mp["w_f"] + mp["b_f"]
    i = jnp.concatenate([h, theta, i], axis=1) @ mp["w_i"] + mp["b_i"]
    theta = jax.nn.sigmoid(f) * theta - jax.nn.sigmoid(i) * grad
    return theta, (h, c, f, i)


# ---------------------------------------------------------------------- meta-iteration

def meta_loss_fn(mp, episode, layout, steps, inner_batch, unroll=False):
    """Query loss at theta_T after T first-order inner steps (differentiable in mp)."""
    (xs, ys), (xq, yq) = episode
    n = mp["theta0"].shape[0]
    zeros = lambda k: jnp.zeros((n, k), mp["theta0"].dtype)
    state = (zeros(HIDDEN), zeros(HIDDEN), zeros(1), zeros(1))   # h, c, f_0, i_0
    B, S = inner_batch, xs.shape[0]
    loss_and_grad = jax.value_and_grad(functools.partial(learner_loss, layout=layout))

    def inner(carry, t):
        theta, state = carry
        # Inner batch: consecutive chunks of the support set (the whole set when B = S).
        if B == S:
            xb, yb = xs, ys
        else:
            idx = (t * B + jnp.arange(B)) % S
            xb, yb = xs[idx], ys[idx]
        # First-order truncation: loss and gradient at a stop_gradient'ed theta, both
        # constants for the meta-gradient (the scan's backward pass only runs through
        # theta, f, i and the LSTM state).
        loss, grad = loss_and_grad(lax.stop_gradient(theta), x=xb, y=yb)
        loss, grad = lax.stop_gradient(loss), lax.stop_gradient(grad) / B
        theta, state = meta_step(mp, loss, grad, theta, state)
        return (theta, state), None

    (theta, _), _ = lax.scan(inner, (mp["theta0"], state), jnp.arange(steps),
                             unroll=steps if unroll else 1)
    return learner_loss(theta, layout, xq, yq)


def clip_by_global_norm(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_: scale by min(1, max_norm / (norm + 1e-6))."""
    norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree_util.tree_leaves(grads)))
    coef = jnp.minimum(max_norm / (norm + 1e-6), 1.0)
    return jax.tree_util.tree_map(lambda g: g * coef, grads)


def adam_init(mp):
    zeros = lambda p: jnp.zeros_like(p)
    return {"step": jnp.zeros((), jnp.int32), "m": jax.tree_util.tree_map(zeros, mp),
            "v": jax.tree_util.tree_map(zeros, mp)}


def adam_update(mp, grads, opt):
    """One torch.optim.Adam step (no weight decay, no amsgrad), same arithmetic:
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
    step = opt["step"] + 1
    t = step.astype(jnp.float32)
    bc1, bc2 = 1 - ADAM_B1 ** t, 1 - ADAM_B2 ** t
    tm = jax.tree_util.tree_map
    m = tm(lambda m, g: ADAM_B1 * m + (1 - ADAM_B1) * g, opt["m"], grads)
    v = tm(lambda v, g: ADAM_B2 * v + (1 - ADAM_B2) * g * g, opt["v"], grads)
    mp = tm(lambda p, m, v: p - (META_LR / bc1) * m / (jnp.sqrt(v) / jnp.sqrt(bc2) + ADAM_EPS),
            mp, m, v)
    return mp, {"step": step, "m": m, "v": v}


def make_meta_iteration(layout, steps, inner_batch, unroll=False):
    """The whole meta-iteration as one jitted function
    (meta-params, Adam state, episode) -> (meta-params, Adam state, meta-loss).
    Meta-parameters and Adam state are donated (updated in place on the device)."""
    loss_fn = functools.partial(meta_loss_fn, layout=layout, steps=steps,
                                inner_batch=inner_batch, unroll=unroll)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def meta_iteration(mp, opt, episode):
        meta_loss, grads = jax.value_and_grad(loss_fn)(mp, episode)
        grads = clip_by_global_norm(grads, CLIP_NORM)
        mp, opt = adam_update(mp, grads, opt)
        return mp, opt, meta_loss

    return meta_iteration


def make_episode_fn(args):
    """Jitted synthetic N-way K-shot episode generator: key -> ((xs, ys), (xq, yq))."""
    def split(key, per_class):
        kx, ky = jax.random.split(key)
        n = args.ways * per_class
        x = jax.random.normal(kx, (n, args.channels, args.size, args.size))
        y = jax.random.permutation(ky, jnp.repeat(jnp.arange(args.ways), per_class))
        return x, y

    @jax.jit
    def episode(key):
        ks, kq = jax.random.split(key)
        return split(ks, args.shots), split(kq, args.queries)

    return episode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_episode_arguments(ap)
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed meta-iterations first (>= 1: the first one compiles)")
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--tf32", action="store_true",
                    help="allow TF32 in GPU convolutions and matmuls (default: full FP32)")
    ap.add_argument("--unroll", action="store_true",
                    help="unroll the T inner steps (default: lax.scan)")
    args = finish_episode_arguments(ap.parse_args())
    if args.warmup < 1:
        ap.error("--warmup must be >= 1 (the first call compiles)")

    if args.device == "cpu":
        jax.config.update("jax_platforms", "cpu")   # do not initialise a GPU backend
    jax.config.update("jax_default_matmul_precision",
                      "tensorfloat32" if args.tf32 else "highest")
    device = jax.devices(args.device)[0]
    jax.config.update("jax_default_device", device)

    layout = learner_layout(args.channels, args.size, args.ways)
    key, ep_key = jax.random.split(jax.random.key(args.seed))
    mp = jax.device_put(init_meta(key, layout), device)
    opt = jax.device_put(adam_init(mp), device)
    n_params = mp["theta0"].shape[0]
    meta_iteration = make_meta_iteration(layout, args.steps, args.inner_batch, args.unroll)
    episode_fn = make_episode_fn(args)

    times = []
    for it in range(args.warmup + args.iters):
        ep_key, k = jax.random.split(ep_key)
        episode = jax.block_until_ready(episode_fn(k))     # not timed
        t0 = time.perf_counter()
        mp, opt, meta_loss = jax.block_until_ready(meta_iteration(mp, opt, episode))
        dt = (time.perf_counter() - t0) * 1e3
        if it >= args.warmup:
            times.append(dt)
        if args.verbose:
            print(f"iter {it}: {dt:.1f} ms, meta-loss {float(meta_loss):.4f}", file=sys.stderr)

    stats = device.memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    print(json.dumps({
        "impl": "jax-jit",
        "jax": jax.__version__,
        "device": args.device,
        "gpu": device.device_kind if args.device == "gpu" else None,
        "tf32": args.tf32 if args.device == "gpu" else None,
        "unroll": args.unroll,
        **episode_fields(args, times),
        "peak_device_mb": round(peak / 2**20, 1) if peak is not None else None,
        "params": n_params,
    }))


if __name__ == "__main__":
    main()
