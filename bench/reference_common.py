"""What torch_reference.py and jax_reference.py share, framework-free: the
reference episode's constants, the learner's parameter layout (theta order),
the command line of an episode and the fields of the JSON line they print.
"""
import resource
import statistics

FILTERS = 32       # conv4 width
HIDDEN = 20        # layer-1 LSTM hidden size
BN_EPS = 1e-3
PREPROC_P = 10.0   # gradient/loss preprocessing constant p
CLIP_NORM = 0.25
META_LR = 1e-3


def learner_layout(channels, size, ways):
    """List of (name, shape, fan_in) for every learner tensor, in theta order."""
    layout, cin, s = [], channels, size
    for b in range(4):
        layout += [(f"conv{b}.w", (FILTERS, cin, 3, 3), cin * 9),
                   (f"conv{b}.b", (FILTERS,), cin * 9),
                   (f"bn{b}.scale", (FILTERS,), None),
                   (f"bn{b}.shift", (FILTERS,), None)]
        cin, s = FILTERS, s // 2          # maxpool 2x2 floors odd sizes (21 -> 10)
    feat = FILTERS * s * s                # 84 -> 5x5 (800), 28 -> 1x1 (32)
    layout += [("fc.w", (ways, feat), feat), ("fc.b", (ways,), feat)]
    return layout


def add_episode_arguments(ap):
    """The episode's shape, the timed iterations and the seed."""
    ap.add_argument("--ways", type=int, default=5)
    ap.add_argument("--shots", type=int, default=1)
    ap.add_argument("--queries", type=int, default=15)
    ap.add_argument("--size", type=int, default=84)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--steps", type=int, default=12, help="inner updates T")
    ap.add_argument("--inner-batch", type=int, default=None, help="default: whole support set")
    ap.add_argument("--iters", type=int, default=5, help="timed meta-iterations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="per-iteration log on stderr")


def finish_episode_arguments(args):
    if args.inner_batch is None:
        args.inner_batch = args.ways * args.shots
    return args


def episode_fields(args, times):
    """The episode's shape and the timings (ms) of the timed iterations."""
    return {
        "size": args.size,
        "channels": args.channels,
        "ways": args.ways,
        "shots": args.shots,
        "queries": args.queries,
        "steps": args.steps,
        "inner_batch": args.inner_batch,
        "iters": args.iters,
        "ms_per_iter_median": round(statistics.median(times), 2),
        "ms_per_iter_min": round(min(times), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
