"""bench/results/latest.png: every request of every deploy, one panel per strategy, one lane per rep.

x is seconds since the deploy started. In a lane, each fast request is a dot at its start time,
colored by the color that answered it; slow requests are bars from start to end (in flight across
the switch) in the lane's top band; failures are red crosses at the moment they failed (their end).
The deploy's phases are shaded behind; the new color's first healthy probe, its Docker healthcheck
turning healthy and its first answer through nginx are marked with vertical ticks.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from bench.run import Raw
from bench.stats import first_event, first_healthy, first_served, started_in

COLORS = {"blue": "#1f77b4", "green": "#2ca02c", "": "#7f7f7f", "none": "#7f7f7f"}
FAILED = "#d62728"
PHASE_COLORS = {
    "prepare": "#eeeeee", "launch": "#f7f7f7", "connect": "#eeeeee", "lock": "#e6e0f0", "detect": "#e6e0f0",
    "upload": "#e6e0f0", "pull": "#f3d9b1", "start": "#fde7c8", "health": "#fff4b3",
    "sleep": "#fff4b3", "validate": "#e0f0e0", "switch": "#c8e6c9", "verify": "#d9f0f7",
    "drain": "#cfe3f5", "stop-old": "#f8d0d0", "record": "#eeeeee",
}  # fmt: skip


def plot(raw: Raw, doc: dict[str, Any], path: Path) -> None:
    strategies = list(raw.settings.strategies)
    reps = raw.settings.reps
    figure, axes = plt.subplots(
        len(strategies), 1, figsize=(15, 1.0 + 1.25 * reps * len(strategies)), squeeze=False
    )
    rng = random.Random(5)
    for ax, name in zip(axes[:, 0], strategies, strict=True):
        deploys = [d for d in raw.deploys if d.strategy == name]
        summary = doc["strategies"][name]
        phases_seen: list[str] = []
        right = 0.0
        for lane, deploy in enumerate(deploys):
            t0 = deploy.window.start
            base = reps - 1 - lane  # rep 1 on top
            right = max(right, deploy.settle_end - t0)
            for phase, window in deploy.phase_windows():
                ax.add_patch(
                    Rectangle(
                        (window.start - t0, base), window.seconds, 0.94,
                        color=PHASE_COLORS.get(phase, "#eeeeee"), zorder=0, linewidth=0,
                    )
                )  # fmt: skip
                if phase not in phases_seen:
                    phases_seen.append(phase)
                if window.seconds >= 0.6:
                    ax.text(
                        window.start - t0 + 0.05, base + 0.9, phase, fontsize=7, va="top", color="#555555"
                    )
            records = started_in(raw.records, deploy.segment)
            fast = [r for r in records if not r.slow and r.ok]
            xs = [r.start - t0 for r in fast]
            ys = [base + 0.05 + 0.55 * rng.random() for _ in fast]
            ax.scatter(
                xs, ys, s=1.5, c=[COLORS.get(r.color, "#7f7f7f") for r in fast],
                linewidths=0, alpha=0.5, rasterized=True, zorder=2,
            )  # fmt: skip
            slow = [r for r in records if r.slow and r.ok]
            for r in slow:
                y = base + 0.64 + 0.2 * rng.random()
                ax.plot([r.start - t0, r.end - t0], [y, y], color=COLORS.get(r.color, "#7f7f7f"), lw=1.2)
            # A failure is marked when it happened (its end): a slow request cut by a stop started
            # up to slow_ms earlier. Slow ones go in the slow band.
            bad = [r for r in records if not r.ok]
            ax.scatter(
                [r.end - t0 for r in bad],
                [base + (0.64 + 0.2 * rng.random() if r.slow else 0.05 + 0.55 * rng.random()) for r in bad],
                marker="x", s=14, color=FAILED, linewidths=0.8, zorder=4,
            )  # fmt: skip
            healthy = first_healthy(raw.probes, deploy.port, deploy.up_start)
            served = first_served(records, deploy.color, deploy.version, t0)
            if healthy is not None:
                ax.plot([healthy - t0] * 2, [base, base + 0.94], color="black", ls=":", lw=1.2, zorder=5)
            docker_healthy = first_event(
                raw.events, deploy.project, "health_status: healthy", deploy.up_start
            )
            if docker_healthy is not None:
                ax.plot(
                    [docker_healthy - t0] * 2, [base, base + 0.94], color="#555555", ls="-.", lw=1.0, zorder=5
                )
            if served is not None:
                ax.plot([served - t0] * 2, [base, base + 0.94], color="black", ls="-", lw=1.0, zorder=5)
        rep_labels = []
        for rep in summary["reps"]:
            failed = rep["failed"]
            rep_labels.append(
                f"rep {rep['rep']}: {rep['to_version']}, {rep['from_color']}->{rep['to_color']}\n"
                f"{failed} failed of {rep['requests']}"
            )
        ax.set_yticks([reps - 1 - i + 0.47 for i in range(len(rep_labels))], rep_labels, fontsize=8)
        ax.set_ylim(0, reps)
        ax.set_xlim(-raw.settings.steady_seconds, right)
        ax.axvline(0, color="#444444", lw=0.8)
        ax.set_title(
            f"{name}: {summary['failed']} failed of {summary['requests']} requests, "
            f"{summary.get('closed_keepalive', '-')} client connections closed by the switch"
            + (f" ({', '.join(summary['switch_modes'])})" if summary.get("switch_modes") else "")
            + "; "
            f"deploy {summary['deploy_seconds']} s, switch delay {summary['switch_delay_seconds']} s, "
            f"p99 {summary['p99_ms']} ms steady / {summary['deploy_p99_ms']} ms in deploys",
            fontsize=10, loc="left",
        )  # fmt: skip
        ax.set_xlabel("seconds since the deploy started", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        handles: list[Any] = [Patch(color=PHASE_COLORS.get(p, "#eeeeee"), label=p) for p in phases_seen]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, title="phase",
                  title_fontsize=7, frameon=False)  # fmt: skip
    marks: list[Any] = [
        Line2D([], [], marker="o", ls="", color=COLORS["blue"], label="answered by blue"),
        Line2D([], [], marker="o", ls="", color=COLORS["green"], label="answered by green"),
        Line2D([], [], marker="x", ls="", color=FAILED, label="failed (at its end)"),
        Line2D([], [], color="#555555", lw=1.2, label="slow request (start to end)"),
        Line2D([], [], color="black", ls=":", label="new color first healthy"),
        Line2D([], [], color="#555555", ls="-.", label="its Docker healthcheck healthy"),
        Line2D([], [], color="black", ls="-", label="first answer from it via nginx"),
    ]
    figure.legend(handles=marks, loc="upper center", ncol=7, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
