"""python -m lab up | down | info | demo"""

from __future__ import annotations

import argparse
import json
import sys
import time

from lab.lifecycle import down, info, up
from lab.progress import say


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="build what is missing, start the lab, print its JSON info")
    commands.add_parser("down", help="remove the lab's containers, networks, volumes and keys")
    commands.add_parser("info", help="print the running lab's JSON info (lab.json)")
    commands.add_parser("demo", help="lab up, then deploy the demo app v1 then v2 with bluegreen")
    args = parser.parse_args(argv)
    started = time.monotonic()
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


if __name__ == "__main__":
    sys.exit(main())
