"""Inputs: read their names and defaults from action.yml, validate them into a Config.

Every check here runs before any connection is made, so bad input never changes the host.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import paramiko
import yaml

from bluegreen import envfile
from bluegreen.bundle import (
    NOTHING_RESERVED,
    Bundle,
    check_shared_services,
    parse_service_list,
    plan_bundle,
)
from bluegreen.canary_inputs import CanaryPlan, check_template_weighs, parse_canary
from bluegreen.colors import COLORS
from bluegreen.errors import InputError
from bluegreen.fleet_inputs import (
    Address,
    BatchSize,
    parse_batch_size,
    parse_batch_wait,
    parse_hosts,
    parse_parallel,
)
from bluegreen.layout import WRITTEN_BESIDE_UPLOADS
from bluegreen.mounts import normal_volume
from bluegreen.notify import Webhook, parse_webhook
from bluegreen.registry_login import RegistryLogin, parse_registry_login
from bluegreen.release_command import ReleaseCommand, parse_release_command
from bluegreen.render import Route, render_nginx
from bluegreen.smoke import SmokePath, parse_smoke_paths
from bluegreen.verify_url import VerifyUrl, parse_verify_url

PACKAGE = Path(__file__).resolve().parent
# action.yml, at the repository root where GitHub reads it, declares the inputs. An installed
# package carries a copy that its build put inside it (setup.py); a checkout reads the original.
ACTION_YML = next(
    (path for path in (PACKAGE / "action.yml", PACKAGE.parent / "action.yml") if path.is_file()),
    PACKAGE.parent / "action.yml",
)
COMMANDS = ("deploy", "rollback", "status", "promote", "abort")
SECRET_INPUTS = ("ssh-key", "ssh-key-passphrase", "env", "registry-password", "webhook-url")
APP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")
HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")
IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
REMOTE_DIR = re.compile(r"^(~|~/[A-Za-z0-9._/-]*|/[A-Za-z0-9._/-]*)$")


@dataclass(frozen=True)
class InputSpec:
    name: str
    description: str
    required: bool
    default: str


@cache
def input_specs() -> dict[str, InputSpec]:
    """The inputs of action.yml, the single place where inputs are declared."""
    action = yaml.safe_load(ACTION_YML.read_text())
    specs: dict[str, InputSpec] = {}
    for name, spec in action["inputs"].items():
        specs[name] = InputSpec(
            name=name,
            description=" ".join(str(spec.get("description", "")).split()),
            required=bool(spec.get("required", False)),
            default=str(spec.get("default", "")),
        )
    return specs


@dataclass(frozen=True)
class Config:
    command: str
    host: str
    port: int
    username: str
    ssh_key: paramiko.PKey
    known_hosts: str
    host_fingerprint: str
    insecure_skip_host_key_check: bool
    connect_timeout: float
    app_name: str
    compose_files: dict[str, tuple[Path, ...]]
    """Local compose files per color (the same files for both colors unless `{color}` is used)."""
    bundles: dict[str, Bundle]
    """What is uploaded for each color: the compose files and every file they refer to."""
    shared_services: tuple[str, ...]
    """Services run once per app (project `<app>-shared`), never stopped by a deploy."""
    image: str
    app_env: tuple[tuple[str, str], ...]
    """KEY=VALUE pairs for the app's containers: secrets, never printed."""
    nginx_template: Path
    health_path: str
    health_timeout: float
    drain_timeout: float
    lock_timeout: float
    remote_dir: str
    ports: dict[str, int]
    http_port: int
    proxy_image: str
    proxy_volumes: tuple[str, ...]
    proxy_container: str
    proxy_config_file: str
    verify_url: VerifyUrl | None = None
    """The public URL the switch is verified through (`verify-url`); None: http-port, health-path."""
    release_command: ReleaseCommand | None = None
    """Run once per deploy before the new color starts (`release-command`); None: nothing."""
    smoke_paths: tuple[SmokePath, ...] = ()
    """Requests made on the new color after the health gate, before the switch (`smoke-paths`)."""
    smoke_timeout: float = 10.0
    registry_login: RegistryLogin | None = None
    """The login the pull uses (`registry-username`, ...); None: the pull logs in to nothing."""
    webhook: Webhook | None = None
    """Where the run's notification goes (`webhook-url`); None: nowhere."""
    hosts: tuple[Address, ...] = ()
    """Every host of the fleet (`hosts`, or `host` alone: a fleet of one); `host`/`port` are the first."""
    parallel: int = 10
    batch_size: BatchSize = dataclasses.field(default_factory=BatchSize)
    batch_wait: float = 0.0
    canary: CanaryPlan | None = None
    """`strategy: canary`: how traffic moves in steps; None: blue-green (all at once)."""

    def __repr__(self) -> str:  # never print the key
        return f"Config(app_name={self.app_name!r}, host={self.host!r}, command={self.command!r})"


DEFAULT_TEMPLATE = PACKAGE / "templates" / "nginx.conf.j2"


def parse_inputs(raw: Mapping[str, str], workspace: Path = Path(".")) -> Config:
    """Validate raw input strings (empty means unset) into a Config, or raise one InputError."""
    specs = input_specs()
    check_known(raw)
    values = _with_defaults(raw)
    for name, spec in specs.items():
        if spec.required and not values[name].strip():
            raise InputError(name, "is required but empty")

    command = _choice(values, "command", COMMANDS)
    if command == "deploy" and not values["compose-file"]:
        raise InputError("compose-file", "is required to deploy but empty")
    ports = {color: _port(values, f"{color}-port") for color in COLORS}
    if ports["blue"] == ports["green"]:
        raise InputError("green-port", "equals blue-port", "Give each color its own port")
    hosts = parse_hosts(values["host"], values["hosts"], _port(values, "port"))
    config = Config(
        command=command,
        host=hosts[0].name,
        port=hosts[0].port,
        username=_username(values["username"]),
        ssh_key=load_private_key(values["ssh-key"], values["ssh-key-passphrase"]),
        known_hosts=values["known-hosts"],
        host_fingerprint=_fingerprint(values["host-fingerprint"]),
        insecure_skip_host_key_check=_boolean(values, "insecure-skip-host-key-check"),
        connect_timeout=_seconds(values, "connect-timeout"),
        app_name=_app_name(values["app-name"]),
        compose_files=(compose_files := _compose_files(values["compose-file"], workspace)),
        bundles=_bundles(compose_files, workspace, values["shared-services"]) if command == "deploy" else {},
        shared_services=parse_service_list(values["shared-services"]),
        image=_image(values["image"]),
        app_env=parse_app_env(values["env"]),
        nginx_template=_template(values["nginx-template"], workspace, command),
        health_path=_health_path(values["health-path"]),
        health_timeout=_seconds(values, "health-timeout"),
        drain_timeout=_seconds(values, "drain-timeout"),
        lock_timeout=_seconds(values, "lock-timeout"),
        remote_dir=_remote_dir(values["remote-dir"]),
        ports=ports,
        http_port=_port(values, "http-port"),
        proxy_image=_image(values["proxy-image"], "proxy-image"),
        proxy_volumes=_proxy_volumes(values["proxy-volumes"]),
        proxy_container=_proxy_container(values["proxy-container"], values["proxy-config-file"]),
        proxy_config_file=_proxy_config_file(values["proxy-config-file"], values["proxy-container"]),
        verify_url=parse_verify_url(values["verify-url"]),
        smoke_paths=parse_smoke_paths(values["smoke-paths"]),
        smoke_timeout=_seconds(values, "smoke-timeout"),
        registry_login=parse_registry_login(
            values["registry"], values["registry-username"], values["registry-password"], values["image"]
        ),
        webhook=webhook_of(values),
        hosts=hosts,
        parallel=parse_parallel(values["parallel"]),
        batch_size=parse_batch_size(values["batch-size"]),
        batch_wait=parse_batch_wait(values["batch-wait"]),
        canary=parse_canary(values),
    )
    if config.canary is not None and command != "status":
        check_template_weighs(config.nginx_template.read_text(), str(config.nginx_template))
    for bundle in config.bundles.values():
        check_shared_services(config.shared_services, bundle)
    release_timeout = _seconds(values, "release-timeout")
    if command != "deploy":
        return config
    release = parse_release_command(
        values["release-command"], values["release-service"], config.bundles.values(), config.shared_services
    )
    if release is not None:
        release = dataclasses.replace(release, timeout=release_timeout)
    return dataclasses.replace(config, release_command=release)


def _with_defaults(raw: Mapping[str, str]) -> dict[str, str]:
    """Every input's value: stripped, or its default when empty (secrets that keep their text aside)."""
    values = {name: (raw.get(name) or "").strip() or spec.default for name, spec in input_specs().items()}
    values["ssh-key"] = raw.get("ssh-key") or ""  # keys keep their exact text
    values["env"] = raw.get("env") or ""
    return values


def webhook_of(raw: Mapping[str, str]) -> Webhook | None:
    """The webhook of the inputs (None without one), or an InputError about `webhook-url` or
    `webhook-timeout`; read apart from the other inputs, so that a run whose other inputs are bad
    still notifies."""
    values = _with_defaults({name: raw.get(name) or "" for name in ("webhook-url", "webhook-timeout")})
    return parse_webhook(values["webhook-url"], _seconds(values, "webhook-timeout"))


def check_known(names: Iterable[str]) -> None:
    """One InputError for the first name that is not an input, with the closest input's name."""
    specs = input_specs()
    unknown = sorted(set(names) - set(specs))
    if unknown:
        close = difflib.get_close_matches(unknown[0].replace("_", "-"), specs, n=1)
        fix = f"Did you mean `{close[0]}`?" if close else "Remove it or fix its spelling"
        raise InputError(unknown[0], "is not an input of bluegreen", fix)


KEY_TYPES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def load_private_key(text: str, passphrase: str) -> paramiko.PKey:
    """Parse the key from memory; it is never written to disk."""
    text = text.strip().replace("\r\n", "\n") + "\n"
    if "PRIVATE KEY" not in text:
        raise InputError(
            "ssh-key",
            "is not a private key",
            "Pass the whole private key file, from -----BEGIN to -----END, e.g. from a secret",
        )
    for key_type in KEY_TYPES:
        try:
            return key_type.from_private_key(io.StringIO(text), passphrase or None)
        except paramiko.PasswordRequiredException:
            raise InputError(
                "ssh-key-passphrase", "is needed: the key is encrypted", "Set `ssh-key-passphrase`"
            ) from None
        except (paramiko.SSHException, ValueError, IndexError):
            # Not this type, or damaged: a cut key makes paramiko raise one of these depending on
            # where it was cut. The next type may read it. (Not `Exception`: a cancellation that
            # arrives during the passphrase's KDF is no reason to try the next type.)
            continue
    if passphrase and _looks_encrypted(text):
        raise InputError("ssh-key-passphrase", "does not decrypt the key", "Check the passphrase secret")
    raise InputError(
        "ssh-key",
        "cannot be read as an Ed25519, ECDSA or RSA private key",
        "Pass the whole OpenSSH or PEM private key file",
    )


def _looks_encrypted(text: str) -> bool:
    """PEM keys say ENCRYPTED; OpenSSH keys name their cipher and KDF (bcrypt) near the start."""
    if "ENCRYPTED" in text:
        return True
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    try:
        return b"bcrypt" in base64.b64decode(body + "==")[:64]
    except ValueError:
        return False


def parse_app_env(text: str) -> tuple[tuple[str, str], ...]:
    """`KEY=VALUE` lines in the dotenv syntax (see envfile.read_env). Errors never quote a value.

    An unquoted value is everything after the first `=` up to the end of its line (LF, or CRLF),
    exactly: spaces, quotes, `$`, `#` and backslashes included (the env file is written to keep
    them); a quoted one loses its quotes as compose reads it.
    """
    try:
        pairs = envfile.read_env(text)
    except envfile.EnvSyntaxError as exc:
        if not exc.key:
            raise InputError(
                "env",
                f"line {exc.line} is not KEY=VALUE",
                "Write one KEY=VALUE per line; keys are letters, digits, _",
            ) from None
        raise InputError(
            "env",
            f"line {exc.line}: the value of {exc.key} {exc.problem}",
            "Close each quoted value with the quote it opens with (it may span lines), and after it "
            "put nothing but a # comment; a value that starts with a quote and is not quoted needs "
            "quotes of the other kind around it",
        ) from None
    for key, value in pairs:
        if "\0" in value:
            raise InputError("env", f"the value of {key} contains a NUL byte", "Remove it")
        if not _is_unicode_text(value):
            raise InputError("env", f"the value of {key} is not valid UTF-8 text", "Fix its encoding")
    return pairs


def _is_unicode_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:  # lone surrogates, from bytes that were not UTF-8
        return False
    return True


def env_file_text(pairs: tuple[tuple[str, str], ...], compose_v1: bool = False) -> str:
    """The env file compose reads with `env_file:`: every value arrives byte for byte.

    The quoting depends on which compose reads it (`docker-compose` 1.x when compose_v1).
    """
    return envfile.env_file_text(pairs, compose_v1)


def _choice(values: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = values[name]
    if value not in allowed:
        raise InputError(name, f"is {value!r}", f"Use one of: {', '.join(allowed)}")
    return value


def _port(values: Mapping[str, str], name: str) -> int:
    value = values[name]
    if not re.fullmatch(r"[0-9]{1,5}", value) or not 1 <= int(value) <= 65535:
        raise InputError(name, f"is {value!r}, not a port", "Use a whole number from 1 to 65535")
    return int(value)


def _seconds(values: Mapping[str, str], name: str) -> float:
    value = values[name]
    try:
        seconds = float(value)
    except ValueError:
        raise InputError(name, f"is {value!r}, not a number", "Give seconds, e.g. 60") from None
    if not 0 < seconds <= 86400 or seconds != seconds:
        raise InputError(name, f"is {value!r}", "Give a positive number of seconds, at most 86400")
    return seconds


def _boolean(values: Mapping[str, str], name: str) -> bool:
    value = values[name].lower()
    if value not in ("true", "false"):
        raise InputError(name, f"is {values[name]!r}", "Use true or false")
    return value == "true"


def _username(value: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_.-]*\$?", value) or len(value) > 32:
        raise InputError("username", f"is {value!r}", "Give the Unix user name on the server")
    return value


def _fingerprint(value: str) -> str:
    if value and not FINGERPRINT.fullmatch(value):
        raise InputError(
            "host-fingerprint",
            f"is {value!r}, not a SHA256 fingerprint",
            "Give it as printed by `ssh-keyscan HOST | ssh-keygen -lf -`, e.g. SHA256:abc...",
        )
    return value


def _app_name(value: str) -> str:
    if not APP_NAME.fullmatch(value):
        raise InputError(
            "app-name",
            f"is {value!r}",
            "Use lowercase letters, digits, '-' and '_' (start with a letter or digit, at most 63)",
        )
    return value


def _image(value: str, name: str = "image") -> str:
    if value and not IMAGE.fullmatch(value):
        raise InputError(name, f"is {value!r}", "Give an image reference like registry/app:tag")
    return value


def _health_path(value: str) -> str:
    if not HEALTH_PATH.fullmatch(value):
        raise InputError("health-path", f"is {value!r}", "Give a URL path starting with '/', e.g. /health")
    return value


def _remote_dir(value: str) -> str:
    if not REMOTE_DIR.fullmatch(value) or "/../" in f"{value}/" or "/./" in f"{value}/":
        raise InputError(
            "remote-dir",
            f"is {value!r}",
            "Give an absolute path or one under ~, with letters, digits, '.', '_', '-' and '/'",
        )
    return value.rstrip("/") or "/"


def _compose_files(value: str, workspace: Path) -> dict[str, tuple[Path, ...]]:
    names = [part.strip() for part in re.split(r"[\n,]", value) if part.strip()]
    # Each file is read and checked with what it refers to (bundle.plan_bundle), for deploy only.
    return {color: tuple(workspace / n.replace("{color}", color) for n in names) for color in COLORS}


CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
HOST_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")


def _host_path(value: str) -> bool:
    return bool(HOST_PATH.fullmatch(value)) and ".." not in value.split("/") and "//" not in value


def _proxy_container(value: str, config_file: str) -> str:
    if value and not CONTAINER_NAME.fullmatch(value):
        raise InputError(
            "proxy-container", f"is {value!r}, not a container name", "Give the name `docker ps` shows"
        )
    if value and not config_file:
        raise InputError(
            "proxy-container",
            "needs `proxy-config-file`",
            "Set `proxy-config-file` to the host path of the file your nginx container loads",
        )
    return value


def _proxy_config_file(value: str, container: str) -> str:
    if value and not container:
        raise InputError(
            "proxy-config-file",
            "is only used with `proxy-container`",
            "Set `proxy-container` to your nginx container, or remove `proxy-config-file`",
        )
    if value and not _host_path(value):
        raise InputError(
            "proxy-config-file",
            f"is {value!r}: it must be an absolute path without '..'",
            "Give the absolute path on the server, e.g. /srv/nginx/conf.d/shop.conf",
        )
    return value


def _proxy_volumes(text: str) -> tuple[str, ...]:
    volumes = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        mode_ok = len(parts) == 2 or (len(parts) == 3 and parts[2] in ("ro", "rw"))
        if not mode_ok or not all(_host_path(part) for part in parts[:2]):
            raise InputError(
                "proxy-volumes",
                f"line {number} is {line!r}, not host-path:container-path[:ro]",
                "Write one mount per line with absolute paths, e.g. /etc/letsencrypt:/etc/letsencrypt:ro",
            )
        volumes.append(normal_volume(line))  # as Docker stores it: `/srv/certs/` is `/srv/certs`
    return tuple(volumes)


def _bundles(files: dict[str, tuple[Path, ...]], workspace: Path, shared: str) -> dict[str, Bundle]:
    shared_by_colors = len(set(files.values())) == 1
    # The shared services' files are uploaded into the directory where bluegreen writes its own.
    reserved = WRITTEN_BESIDE_UPLOADS if parse_service_list(shared) else NOTHING_RESERVED
    return {
        color: plan_bundle(paths, workspace.resolve(), shared_by_colors=shared_by_colors, reserved=reserved)
        for color, paths in files.items()
    }


def _template(value: str, workspace: Path, command: str) -> Path:
    path = workspace / value if value else DEFAULT_TEMPLATE
    if command == "status":
        return path
    if not path.is_file():
        raise InputError(
            "nginx-template", f"{path} does not exist", "Point it at a jinja2 nginx.conf template"
        )
    # A trial render here catches undefined variables and syntax errors before anything connects.
    render_nginx(path.read_text(), Route("app", "green", "blue", "127.0.0.1", 8082, 80), str(path))
    return path
