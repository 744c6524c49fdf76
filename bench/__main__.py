"""python -m bench [--reps N]: the zero-downtime benchmark in the lab (issue #5), then the action
image's start-up under the same load (issue 13 item 5).

Writes bench/results/latest.json, latest.md and latest.png, and the raw measurements to
bench/results/runs/<date>.json.gz (not committed; `--from-raw` recomputes the results from one).
`--only startup` measures the start-up alone (under the same load, no strategies) and writes
runs/<date>-startup.json and .md instead of latest.*. `--only fleet` measures the fleet row alone
(bench/fleet.py: one host vs a parallel and a rolling deploy to the lab's fleet) and writes
runs/<date>-fleet.json and .md; a full run measures it too, into fleet.json and fleet.md.
Exits 0 when every target holds, 3 when one misses (the results are written either way).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.run import Settings, dump, load_dump, measure, say
from bench.strategies import STRATEGIES

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    defaults = Settings()
    parser.add_argument("--reps", type=int, default=defaults.reps, help="repetitions per strategy")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated, in order")
    parser.add_argument("--clients", type=int, default=defaults.clients, help="keep-alive fast clients")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="total fast req/s")
    parser.add_argument("--slow-clients", type=int, default=defaults.slow_clients)
    parser.add_argument("--slow-ms", type=int, default=defaults.slow_ms)
    parser.add_argument(
        "--no-retry", action="store_true", help="clients never retry on a keep-alive connection found closed"
    )
    parser.add_argument(
        "--post-clients",
        type=int,
        default=defaults.post_clients,
        help="keep-alive clients sending POST /echo",
    )
    parser.add_argument(
        "--startup-samples",
        type=int,
        default=defaults.startup_samples,
        help="docker runs of the action image for its start-up (0: none)",
    )
    parser.add_argument("--only", choices=["startup", "fleet"], help="run only this step (with the load)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for latest.{json,md,png}")
    parser.add_argument("--from-raw", type=Path, help="recompute the results from a raw dump, no run")
    args = parser.parse_args(argv)

    from bench import plot, report  # matplotlib is slow to import; --help should not wait for it

    if args.only == "fleet":
        return _fleet_row(
            args.reps, args.out / "runs", f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-fleet"
        )
    if args.from_raw:
        raw = load_dump(args.from_raw)
    else:
        strategies = () if args.only else tuple(s for s in args.strategies.split(",") if s)
        unknown = set(strategies) - set(STRATEGIES)
        if unknown or args.reps < 1 or args.slow_ms < 1000 or args.startup_samples < (1 if args.only else 0):
            parser.error(f"strategies among {STRATEGIES}, reps >= 1, slow-ms >= 1000 (unknown: {unknown})")
        settings = Settings(
            reps=args.reps, strategies=strategies, clients=args.clients, rate=args.rate,
            slow_clients=args.slow_clients, slow_ms=args.slow_ms, retry=not args.no_retry,
            post_clients=args.post_clients, startup_samples=args.startup_samples,
        )  # fmt: skip
        from lab import up
        from lab.action_image import build_action_image

        say("lab up")
        lab = up()
        image = None
        if settings.startup_samples:
            say("building the action image")
            image = build_action_image()
        raw = measure(settings, lab, image)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dump(raw, args.out / "runs" / f"{stamp}.json.gz")

    doc = report.build(raw)
    if not raw.deploys:  # --only startup: no strategies, no plot; latest.* stay the full run's
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-startup"
        (args.out / "runs").mkdir(parents=True, exist_ok=True)
        (args.out / "runs" / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        text = "\n".join(report.startup_markdown(doc)).lstrip() + "\n"
        (args.out / "runs" / f"{name}.md").write_text(text)
        say(f"wrote {args.out}/runs/{name}.json, {name}.md")
        print(text, flush=True)
        missed = [t for t in doc["targets"] if not t["holds"]]
        for t in missed:
            say(f"target missed: {t['name']}: {t['measured']} (limit {t['limit']})")
        return 3 if missed else 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "latest.md").write_text(report.markdown(doc))
    plot.plot(raw, doc, args.out / "latest.png")
    say(f"wrote {args.out}/latest.json, latest.md, latest.png")
    print((args.out / "latest.md").read_text().split("## Every repetition")[0], flush=True)
    missed = [t for t in doc["targets"] if not t["holds"]]
    for t in missed:
        say(f"target missed: {t['name']}: {t['measured']} (limit {t['limit']})")
    fleet_missed = (
        _fleet_row(args.reps, args.out, "fleet") if raw.lab.get("fleet") and not args.from_raw else 0
    )
    return 3 if missed or fleet_missed else 0


def _fleet_row(reps: int, folder: Path, name: str) -> int:
    """The fleet row (bench/fleet.py) into folder/name.json and .md; 3 when its target misses."""
    from bench import fleet
    from lab import info

    lab = info()  # a full run has brought the lab up; `--only fleet` uses the running lab
    if not lab.get("fleet"):
        say("the lab runs no fleet (BLUEGREEN_LAB_FLEET=0): no fleet row")
        return 0
    try:
        doc = fleet.measure(lab, reps)
    finally:
        fleet.remove_apps(lab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    text = "\n".join(fleet.markdown(doc))
    (folder / f"{name}.md").write_text(text)
    say(f"wrote {folder}/{name}.json, {name}.md")
    print(text, flush=True)
    return 0 if doc["target"]["holds"] else 3


if __name__ == "__main__":
    sys.exit(main())
