#!/usr/bin/env python3
"""A synthetic tree for the memory benchmarks: N one-line sources, 500 to a directory.

    python3 bench/synthetic_tree.py ROOT N
"""
import os
import sys

root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    sub = "%s/p%d" % (root, i // 500)
    if i % 500 == 0:
        os.makedirs(sub, exist_ok=True)
    with open("%s/m%d.py" % (sub, i), "w") as f:
        f.write("x = 1\n")
