"""python -m lab up | down | info | demo | fleet-up | fleet-down"""

from __future__ import annotations

import argparse
import json
import sys
import time

from lab import fleet
from lab.lifecycle import down, info, lab_lock, up
from lab.progress import say
from lab.settings import lab_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build what is missing, start the lab, print its JSON info")
    commands.add_parser("down", help="remove the lab's containers, networks, volumes and keys")
    commands.add_parser("info", help="print the running lab's JSON info (lab.json)")
    commands.add_parser("demo", help="lab up, then deploy the demo app v1 then v2 with bluegreen")
    commands.add_parser("fleet-up", help="start what is missing of the fleet alone, print its JSON info")
    commands.add_parser("fleet-down", help="remove the fleet alone: namespaces, engines and their data, LB")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.command.startswith("fleet-"):
        return _fleet(args.command, started)
    if args.command == "up":
        result = up()
        say(f"lab up in {time.monotonic() - started:.1f} s")
        print(json.dumps(result), flush=True)
    elif args.command == "down":
        down()
        say(f"lab down in {time.monotonic() - started:.1f} s")
    elif args.command == "demo":
        from lab.demo import main as demo

        return demo()
    else:
        print(json.dumps(info()), flush=True)
    return 0


def _fleet(command: str, started: float) -> int:
    paths = lab_paths()
    with lab_lock(paths):
        if command == "fleet-up":
            result = fleet.up(paths)
            say(f"fleet up in {time.monotonic() - started:.1f} s")
        else:
            fleet.down(paths)
            result = None
            say(f"fleet down in {time.monotonic() - started:.1f} s")
        if paths.info_file.is_file():  # the lab's JSON says what runs
            lab = json.loads(paths.info_file.read_text())
            paths.info_file.write_text(json.dumps({**lab, "fleet": result}) + "\n")
    if command == "fleet-up":
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
