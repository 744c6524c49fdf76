"""The CLI's inputs: the action's inputs gathered from flags, files, the environment and --config.

Precedence: a flag, then the environment (BLUEGREEN_SSH_KEY_PASSPHRASE), then the --config file,
then action.yml's defaults. Secrets can come from files or the environment, so they never need
to be on the command line (where `ps` shows them). Each input remembers where it came from, so an
error names what the user typed: `--ssh-key-file`, or `host` in deploy.yml.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bluegreen.config import input_specs
from bluegreen.errors import InputError, InputNaming

# Flags that read an input's value from a file: flag -> input.
FILE_FLAGS = {
    "ssh-key-file": "ssh-key",
    "ssh-key-passphrase-file": "ssh-key-passphrase",
    "known-hosts-file": "known-hosts",
    "env-file": "env",
    "registry-password-file": "registry-password",
}
# Inputs read from the environment when no flag gives them: input -> variable.
ENV_VARIABLES = {
    "ssh-key-passphrase": "BLUEGREEN_SSH_KEY_PASSPHRASE",
    "registry-password": "BLUEGREEN_REGISTRY_PASSWORD",
    "webhook-url": "BLUEGREEN_WEBHOOK_URL",
}
# The flag a fix points at for an input (the file flag for secrets).
PREFERRED_FLAGS = {
    "ssh-key": "--ssh-key-file",
    "ssh-key-passphrase": "--ssh-key-passphrase-file (or $BLUEGREEN_SSH_KEY_PASSPHRASE)",
    "env": "--env-file",
    "registry-password": "--registry-password-file (or $BLUEGREEN_REGISTRY_PASSWORD)",
    "webhook-url": "$BLUEGREEN_WEBHOOK_URL",
}


@dataclass
class Gathered:
    """Raw input values for bluegreen.run.execute, and where each came from."""

    raw: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def set(self, name: str, value: str, origin: str) -> None:
        self.raw[name] = value
        self.origins[name] = origin

    def fill(
        self,
        command: str,
        flags: Mapping[str, str | None],
        config_file: str | None,
        environ: Mapping[str, str],
    ) -> None:
        """From, lowest precedence first, the config file, the environment, and the flags."""
        if config_file:
            for key, value in read_config_file(Path(config_file)).items():
                _put(self, key, value, f"`{key}` in {config_file}")
        for name, variable in ENV_VARIABLES.items():
            if environ.get(variable):
                self.set(name, environ[variable], f"${variable}")
        for key, flag_value in flags.items():
            if flag_value is not None:
                _put(self, key, flag_value, f"--{key}")
        self.raw["command"] = command


def _put(gathered: Gathered, key: str, value: str, origin: str) -> None:
    if key in FILE_FLAGS:
        gathered.origins[key] = origin
        gathered.set(FILE_FLAGS[key], _read(value, key), origin)
    else:
        gathered.set(key, value, origin)


def _read(path: str, key: str) -> str:
    try:
        return Path(path).expanduser().read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(key, f"cannot be read ({exc})", "Give a readable file") from None


def config_keys() -> list[str]:
    """What a config file may hold: the action's inputs (but `command`) and the file flags."""
    return [name for name in input_specs() if name != "command"] + list(FILE_FLAGS)


def read_config_file(path: Path) -> dict[str, str]:
    """A YAML mapping of input names to values; lists (e.g. several compose files) become lines."""
    try:
        document: Any = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("config", f"{path} cannot be read ({exc})", "Give a readable YAML file") from None
    except yaml.YAMLError as exc:
        raise InputError("config", f"{path} is not valid YAML ({exc})", "Fix the file's syntax") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InputError("config", f"{path} is not a mapping", "Write one `input: value` per line")
    keys = config_keys()
    values: dict[str, str] = {}
    for key, value in document.items():
        if str(key) not in keys:
            close = difflib.get_close_matches(str(key).replace("_", "-"), keys, n=1)
            fix = f"Did you mean '{close[0]}'?" if close else "Remove it or fix its spelling"
            raise InputError("config", f"'{key}' in {path} is not an input of bluegreen", fix)
        values[str(key)] = _text(value)
    return values


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(_text(item) for item in value)
    return "" if value is None else str(value)


def cli_naming(origins: Mapping[str, str]) -> InputNaming:
    """Errors name an input as the user gave it (or as its flag), and point fixes at flags."""
    known = set(input_specs()) | set(FILE_FLAGS) | {"config"}

    def flag(name: str) -> str | None:
        return f"--{name}" if name in known and name != "command" else None

    def reference(name: str) -> str | None:
        return PREFERRED_FLAGS.get(name) or flag(name)

    def subject(name: str) -> str:
        return origins.get(name) or flag(name) or f"`{name}`"

    def how_to_set(name: str) -> str:
        return f"Give {reference(name) or name} (or `{name}:` in the --config file)"

    return InputNaming(subject=subject, reference=reference, how_to_set=how_to_set)
