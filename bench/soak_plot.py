"""Plots the soak's samples: server RSS and open files over time.

    python bench/soak_plot.py SAMPLES.csv OUT.png TITLE
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1])))
t = [int(r["seconds"]) / 60 for r in rows]
fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
ax.plot(t, [int(r["rss_kib"]) / 1024 for r in rows], color="tab:blue", label="RSS (MiB)")
ax.set_xlabel("minutes")
ax.set_ylabel("server RSS, MiB", color="tab:blue")
ax.set_ylim(bottom=0)
ax2 = ax.twinx()
ax2.plot(t, [int(r["open_files"]) for r in rows], color="tab:orange", label="open files")
ax2.set_ylabel("open files", color="tab:orange")
ax2.set_ylim(bottom=0)
ax.set_title(sys.argv[3], fontsize=10)
fig.tight_layout()
fig.savefig(sys.argv[2])
