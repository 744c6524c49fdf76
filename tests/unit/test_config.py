from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bluegreen.config import env_file_text, input_specs, parse_app_env, parse_inputs
from bluegreen.errors import InputError


def private_key(passphrase: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
        .decode()
    )


KEY = private_key()
ENCRYPTED_KEY = private_key(b"correct horse")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "compose.yml").write_text("services:\n  web:\n    image: ${BLUEGREEN_IMAGE}\n")
    (tmp_path / "deploy" / "nginx.conf.j2").write_text("events {}\n")
    (tmp_path / "deploy" / "not-yaml.yml").write_text("services: [unclosed\n")
    (tmp_path / "deploy" / "empty.yml").write_text("version: '3'\n")
    (tmp_path / "deploy" / "undefined.j2").write_text("server {{ upstream_prot }};\n")
    return tmp_path


def good(**overrides: str) -> dict[str, str]:
    inputs = {
        "host": "deploy.example.com",
        "username": "deploy",
        "ssh-key": KEY,
        "known-hosts": "deploy.example.com ssh-ed25519 AAAA",
        "app-name": "shop",
        "compose-file": "deploy/compose.yml",
        "nginx-template": "deploy/nginx.conf.j2",
    }
    inputs.update(overrides)
    return inputs


def test_valid_inputs_get_defaults_from_action_yml(workspace: Path) -> None:
    config = parse_inputs(good(), workspace)
    assert (config.port, config.health_path, config.remote_dir, config.http_port) == (
        22,
        "/health",
        "~/bluegreen",
        80,
    )
    assert config.ports == {"blue": 8081, "green": 8082}
    assert config.compose_files == {
        "blue": (workspace / "deploy/compose.yml",),
        "green": (workspace / "deploy/compose.yml",),
    }
    assert "ssh_key" not in repr(config) and "PRIVATE" not in repr(config)


def test_one_compose_file_per_color(workspace: Path) -> None:
    for color in ("blue", "green"):
        (workspace / "deploy" / f"docker-compose.{color}.yml").write_text("services: {web: {image: x}}\n")
    config = parse_inputs(good(**{"compose-file": "deploy/docker-compose.{color}.yml"}), workspace)
    assert config.compose_files["green"] == (workspace / "deploy/docker-compose.green.yml",)


def test_encrypted_key_with_its_passphrase(workspace: Path) -> None:
    config = parse_inputs(
        good(**{"ssh-key": ENCRYPTED_KEY, "ssh-key-passphrase": "correct horse"}), workspace
    )
    assert config.ssh_key.get_name() == "ssh-ed25519"


BAD_INPUTS = [
    # (overrides, input named in the error, words of the error)
    ({"host": ""}, "host", "is required but empty"),
    ({"username": ""}, "username", "is required but empty"),
    ({"ssh-key": ""}, "ssh-key", "is required but empty"),
    ({"app-name": ""}, "app-name", "is required but empty"),
    ({"compose-file": ""}, "compose-file", "is required to deploy but empty"),
    ({"ssh-key": "hello"}, "ssh-key", "is not a private key"),
    (
        {"ssh-key": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"},
        "ssh-key",
        "cannot be read",
    ),
    ({"ssh-key": ENCRYPTED_KEY}, "ssh-key-passphrase", "is needed"),
    ({"ssh-key": ENCRYPTED_KEY, "ssh-key-passphrase": "wrong"}, "ssh-key-passphrase", "does not decrypt"),
    ({"host-fingerprint": "MD5:aa:bb"}, "host-fingerprint", "not a SHA256 fingerprint"),
    ({"host-fingerprint": "SHA256:short"}, "host-fingerprint", "not a SHA256 fingerprint"),
    ({"compose-file": "deploy/missing.yml"}, "compose-file", "does not exist"),
    (
        {"compose-file": "deploy/not-yaml.yml"},
        "compose-file",
        "is not valid YAML (line 2, column 1: expected ',' or ']'",
    ),
    ({"compose-file": "deploy/empty.yml"}, "compose-file", "defines no services"),
    ({"nginx-template": "deploy/missing.j2"}, "nginx-template", "does not exist"),
    ({"nginx-template": "deploy/undefined.j2"}, "nginx-template", "'upstream_prot' is undefined"),
    ({"health-timeout": "soon"}, "health-timeout", "not a number"),
    ({"health-timeout": "-5"}, "health-timeout", "Give a positive number"),
    ({"drain-timeout": "0"}, "drain-timeout", "Give a positive number"),
    ({"lock-timeout": "nan"}, "lock-timeout", "Give a positive number"),
    ({"connect-timeout": "1e9"}, "connect-timeout", "at most 86400"),
    ({"port": "ssh"}, "port", "not a port"),
    ({"port": "70000"}, "port", "not a port"),
    ({"port": "²"}, "port", "not a port"),  # str.isdigit() says yes; found by hypothesis
    ({"blue-port": "8082"}, "green-port", "equals blue-port"),
    ({"command": "destroy"}, "command", "Use one of: deploy, rollback, status"),
    ({"health-path": "health"}, "health-path", "starting with '/'"),
    ({"health-path": "/h $(reboot)"}, "health-path", "starting with '/'"),
    ({"app-name": "my shop"}, "app-name", "Use lowercase letters"),
    ({"app-name": "shop;rm -rf /"}, "app-name", "Use lowercase letters"),
    ({"app-name": "$(reboot)"}, "app-name", "Use lowercase letters"),
    ({"app-name": ".."}, "app-name", "Use lowercase letters"),
    ({"app-name": "Shop"}, "app-name", "Use lowercase letters"),
    ({"remote-dir": "/srv/../etc"}, "remote-dir", "Give an absolute path"),
    ({"remote-dir": "relative/dir"}, "remote-dir", "Give an absolute path"),
    ({"remote-dir": "/srv/a b"}, "remote-dir", "Give an absolute path"),
    ({"image": "reg/app:1;reboot"}, "image", "Give an image reference"),
    ({"host": "-oProxyCommand=x"}, "host", "Give a hostname"),
    ({"username": "root;id"}, "username", "Give the Unix user name"),
    ({"insecure-skip-host-key-check": "yes"}, "insecure-skip-host-key-check", "Use true or false"),
    ({"colour": "blue"}, "colour", "is not an input of bluegreen. Remove it or fix its spelling"),
    ({"ssh_key": "x"}, "ssh_key", "is not an input of bluegreen. Did you mean `ssh-key`?"),
]


@pytest.mark.parametrize(
    ("overrides", "input_name", "words"), BAD_INPUTS, ids=[str(c[0])[:60] for c in BAD_INPUTS]
)
def test_bad_input_names_the_input_and_the_fix(
    workspace: Path, overrides: dict[str, str], input_name: str, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_inputs(good(**overrides), workspace)
    assert caught.value.input_name == input_name
    message = str(caught.value)
    assert message.startswith(f"input '{input_name}': ")
    assert words in message
    assert KEY not in message and "correct horse" not in message


def test_every_input_has_a_description() -> None:
    assert all(spec.description for spec in input_specs().values())


def test_app_env_lines_become_an_env_file() -> None:
    pairs = parse_app_env("# database\nDB_URL=postgres://u:p@db/app?x=1\n\nEMPTY=\nSPACED = a b \n")
    assert pairs == (("DB_URL", "postgres://u:p@db/app?x=1"), ("EMPTY", ""), ("SPACED", " a b "))
    assert env_file_text(pairs) == 'DB_URL="postgres://u:p@db/app?x=1"\nEMPTY=""\nSPACED=" a b "\n'


def test_app_env_values_are_kept_exactly_to_the_end_of_their_line() -> None:
    text = "A= s3cr3t$HOME\"q'x#y  \r\nB=a\rb\u2028c\x85d\nC=k=v # not a comment\n"
    assert parse_app_env(text) == (
        ("A", " s3cr3t$HOME\"q'x#y  "),
        ("B", "a\rb\u2028c\x85d"),
        ("C", "k=v # not a comment"),
    )


def test_app_env_value_that_is_not_utf8_is_refused_without_quoting_it() -> None:
    with pytest.raises(InputError) as caught:
        parse_app_env("TOKEN=abc\udcff\n")
    assert caught.value.input_name == "env"
    assert "TOKEN" in str(caught.value) and "abc" not in str(caught.value)


@pytest.mark.parametrize("text", ["JUST_A_KEY", "1ABC=x", "A-B=x", "=value"])
def test_bad_app_env_line_is_named_without_its_value(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_app_env(f"OK=1\n{text}\n")
    assert str(caught.value) == (
        "input 'env': line 2 is not KEY=VALUE. Write one KEY=VALUE per line; keys are letters, digits, _"
    )


def test_app_env_in_dotenv_syntax_arrives_without_its_quotes() -> None:
    text = 'GREETING="hello world"\nKEY=\'literal $x\'\nPLAIN=a "b" #c\n'
    assert parse_app_env(text) == (("GREETING", "hello world"), ("KEY", "literal $x"), ("PLAIN", 'a "b" #c'))
    assert (
        env_file_text(parse_app_env(text))
        == 'GREETING="hello world"\nKEY="literal $$x"\nPLAIN="a \\"b\\" #c"\n'
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('OK=1\nTOKEN="s3cr3t\n', 'line 2: the value of TOKEN opens a " quote that is never closed'),
        ("TOKEN='s3cr3t'x\n", "line 1: the value of TOKEN has text after its closing quote"),
    ],
)
def test_a_quote_that_does_not_close_is_refused_without_quoting_the_value(text: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_app_env(text)
    assert caught.value.input_name == "env"
    assert caught.value.problem == problem
    assert "s3cr3t" not in str(caught.value)
