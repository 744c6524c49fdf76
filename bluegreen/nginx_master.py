"""How the user's nginx was started: its master process's command line, read back, so that
`nginx -t` and `nginx -T` test the config that nginx really runs (`-c`, `-p`, `-g`, `-e`).

nginx replaces its process title with "nginx: master process " followed by its arguments joined by
spaces, so the title alone loses where one argument ends (`-g "daemon off;"`). The argv Docker
started the container with (inspect's Path and Args) has the boundaries: where the title's
arguments are a tail of it (nginx run directly, or exec'd by an entrypoint script with "$@"),
that tail is used; otherwise the title is split on spaces and a word that is no option continues
the option before it (nginx refuses a bare word, so it can only be part of a value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MASTER_TITLE = "nginx: master process "
VALUED_OPTIONS = {"p": "prefix", "e": "error_log", "c": "config", "g": "directives", "s": "signal"}
"""nginx's options that take a value, inline (`-c/etc/x.conf`) or as the next argument."""


@dataclass(frozen=True)
class NginxCommand:
    """The program and the options of a running nginx that decide which config it loads."""

    program: str = "nginx"
    prefix: str | None = None
    error_log: str | None = None
    config: str | None = None
    directives: str | None = None

    def options(self) -> list[str]:
        """The same options again: relative paths resolve as they did for the master (against
        the prefix, or the working directory docker exec also starts in)."""
        pairs = (("-p", self.prefix), ("-e", self.error_log), ("-c", self.config), ("-g", self.directives))
        return [arg for flag, value in pairs if value is not None for arg in (flag, value)]


def parse_nginx_argv(argv: Sequence[str]) -> NginxCommand:
    """nginx's own reading of its arguments (ngx_get_options): flags may be combined (`-tq`),
    a value follows its letter or is the next argument, and the last one of each option counts."""
    values: dict[str, str] = {}
    index = 1
    while index < len(argv):
        word = argv[index]
        letters = word[1:] if word.startswith("-") else ""
        for position, letter in enumerate(letters):
            if letter in VALUED_OPTIONS:
                inline = letters[position + 1 :]
                if inline:
                    values[VALUED_OPTIONS[letter]] = inline
                elif index + 1 < len(argv):
                    index += 1
                    values[VALUED_OPTIONS[letter]] = argv[index]
                break
        index += 1
    program = argv[0] if argv else "nginx"
    return NginxCommand(
        program, values.get("prefix"), values.get("error_log"), values.get("config"), values.get("directives")
    )


def argv_from_title(arguments: str, started: Sequence[str]) -> list[str]:
    """The master's argv from the text after "nginx: master process " (see the module docstring)."""
    for start in range(len(started)):
        if " ".join(started[start:]) == arguments:
            return list(started[start:])
    words = arguments.split(" ")
    argv = words[:1]
    takes_value = False
    for word in words[1:]:
        if word.startswith("-"):
            argv.append(word)
            letters = word[1:]
            valued = [i for i, letter in enumerate(letters) if letter in VALUED_OPTIONS]
            takes_value = bool(valued) and valued[0] == len(letters) - 1
        elif takes_value:
            argv.append(word)
            takes_value = False
        elif len(argv) > 1:
            argv[-1] = f"{argv[-1]} {word}"
    return argv


def master_arguments(processes: Sequence[Sequence[Any]]) -> str | None:
    """The arguments in the first nginx master's title among `docker top` rows (command last)."""
    for row in processes:
        command = str(row[-1]) if row else ""
        if command.startswith(MASTER_TITLE):
            return command[len(MASTER_TITLE) :].strip()
        if command == MASTER_TITLE.strip():
            return ""
    return None


def running_command(processes: Sequence[Sequence[Any]], attrs: dict[str, Any]) -> NginxCommand | None:
    """How the container's nginx master was started, from `docker top` and `docker inspect`;
    None when no nginx master runs there."""
    arguments = master_arguments(processes)
    if arguments is None:
        return None
    started = [str(attrs.get("Path") or ""), *[str(arg) for arg in attrs.get("Args") or []]]
    return parse_nginx_argv(argv_from_title(arguments, [arg for arg in started if arg]) if arguments else [])
