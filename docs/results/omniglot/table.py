#!/usr/bin/env python3
"""Writes the Omniglot results table (markdown) from the JSON that
docs/results/omniglot/run.sh leaves in DOCS/json and the training logs."""
import json
import os
import sys

docs = sys.argv[1]


def load(name):
    with open(os.path.join(docs, "json", name)) as f:
        return json.load(f)


def cell(r):
    return "%.2f +- %.2f" % (100 * r["accuracy"], 100 * r["ci95"])


def training(k):
    """(episodes, wall seconds, best validation accuracy, its episode)."""
    episodes, seconds, best = 0, 0.0, (0.0, 0)
    with open(os.path.join(docs, "5w%ds.log.jsonl" % k)) as f:
        for line in f:
            r = json.loads(line)
            if "meta_loss" in r:
                episodes, seconds = r["episode"], r["elapsed_s"]
            if r.get("best"):
                best = (r["val_accuracy"], r["episode"])
    return episodes, seconds, best


rows = [("meta-LSTM, meta-trained (best validation checkpoint)", "trained"),
        ("meta-LSTM at its initialisation (close to plain gradient descent)", "init"),
        ("SGD fine-tuning from a random initialisation, tuned learning rate", "sgd")]
print("| 5-way Omniglot, 28x28, 600 test episodes, accuracy %, 95% CI | 1-shot | 5-shot |")
print("|---|---|---|")
for label, key in rows:
    print("| %s | %s | %s |" % (label, cell(load("5w1s.%s.json" % key)),
                                cell(load("5w5s.%s.json" % key))))
print()
for k in (1, 5):
    episodes, seconds, (acc, at) = training(k)
    lr = open(os.path.join(docs, "json", "5w%ds.sgd_lr" % k)).read().strip()
    print("- %d-shot: meta-trained for %d episodes (one episode per Adam step) "
          "in %.1f min of wall time; best validation accuracy %.2f%% (100 "
          "episodes) at episode %d; SGD learning rate %s chosen on 100 "
          "validation episodes." % (k, episodes, seconds / 60, 100 * acc, at, lr))
