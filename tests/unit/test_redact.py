"""Secrets never reach a message: the reporter and the final error are screened in run.execute."""

import pytest

from bluegreen.errors import BluegreenError, InputError, RemoteCommandError
from bluegreen.redact import redact, secret_fragments
from bluegreen.run import Screen, ScreenedReporter, secrets_of
from bluegreen.untrusted import printable

HOSTILE = [
    "s3cr3t$HOME\"q'x#y",
    "pass #word",
    "a${BLUEGREEN_COLOR}b$$c",
    "'$USER'",
    "trailing  ",
    "back\\slash\\",
    "ünï☃",
    "x*y+z?(regex)[chars]",
]


@pytest.mark.parametrize("secret", HOSTILE)
def test_each_secret_becomes_stars(secret: str) -> None:
    text = f"compose said: {secret!r} and {secret}."
    redacted = redact(text, secret_fragments([secret]))
    assert secret.strip() not in redacted
    assert "***" in redacted


def test_each_line_of_a_multiline_secret_is_masked_alone() -> None:
    key = "-----BEGIN KEY-----\nAAAAbbbbCCCC\nddddEEEEffff\n-----END KEY-----\n"
    assert redact("line 2: ddddEEEEffff", secret_fragments([key])) == "line 2: ***"


def test_the_longest_secret_is_masked_first() -> None:
    assert redact("hunter2-secret", secret_fragments(["hunter2", "hunter2-secret"])) == "***"


def test_short_fragments_are_left_alone() -> None:
    assert redact("exit 1", secret_fragments(["1", ""])) == "exit 1"


def env_inputs(value: str) -> dict[str, str]:
    return {"env": f"OTHER=zzz\nDB_PASSWORD={value}\n", "ssh-key-passphrase": "correct horse"}


@pytest.mark.parametrize("value", HOSTILE)
def test_the_env_file_form_of_a_value_is_masked_too(value: str) -> None:
    """Compose quotes the line it cannot parse as written in the file, not as given."""
    screen = Screen(secrets_of(env_inputs(value)))
    for written in ('"' + value.replace("$", "$$") + '"', value):
        assert value.strip() not in screen.text(f"unterminated quoted value {written}")


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def phase_started(self, name: str) -> None:
        self.lines.append(f"start {name}")

    def phase_ended(self, name: str, seconds: float, ok: bool) -> None:
        self.lines.append(f"end {name}")

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warning(self, message: str) -> None:
        self.lines.append(f"warning {message}")


def test_every_reporter_message_is_redacted_and_printable() -> None:
    recorder = Recorder()
    reporter = ScreenedReporter(recorder, Screen(secrets_of(env_inputs("hunter2-secret"))))
    reporter.info('compose: unterminated quoted value "hunter2-secret\x1b[2J')
    reporter.warning("passphrase correct horse refused\r")
    reporter.phase_started("start")
    reporter.phase_ended("start", 1.0, True)
    assert recorder.lines == [
        'compose: unterminated quoted value "***',
        "warning passphrase *** refused",
        "start start",
        "end start",
    ]


def test_the_final_error_keeps_its_type_and_attributes_but_not_the_secret() -> None:
    screen = Screen(secrets_of(env_inputs("hunter2-secret")))
    error = RemoteCommandError("starting green", "docker compose up", 15, 'bad value "hunter2-secret"')
    error.live_color = "blue"
    screen.error(error)
    assert isinstance(error, RemoteCommandError) and error.exit_code == 15
    assert error.live_color == "blue"
    assert "hunter2" not in str(error) and "***" in str(error)


def test_an_input_error_is_screened_in_every_part() -> None:
    screen = Screen(["hunter2-secret"])
    error = InputError("env", "oops hunter2-secret", "fix hunter2-secret")
    screen.error(error)
    assert error.input_name == "env"
    assert "hunter2" not in str(error) + error.problem + error.fix


def test_server_text_in_an_error_loses_its_escape_sequences() -> None:
    error = BluegreenError("holder: \x1b]0;pwned\x07\x1b[2Jdeployed")
    Screen([]).error(error)
    assert str(error) == "holder: deployed"


def test_a_quoted_env_value_is_masked_without_its_quotes() -> None:
    """Compose and the app see the value without quotes: that is what a log may echo."""
    screen = Screen(secrets_of({"env": "DB_PASSWORD=\"hunter2 secret\"\nKEY='multi\nline-secret'\n"}))
    assert screen.text("password hunter2 secret refused; key line-secret") == "password *** refused; key ***"


# ---- a secret cut short by a cap shows no part of itself -----------------------------------------

SECRET = "hunter2-secret-value"


@pytest.mark.parametrize("kept", range(1, len(SECRET)))
def test_a_secret_cut_at_a_cap_shows_none_of_its_beginning(kept: int) -> None:
    """`printable` caps server text (500 characters here) before the screen sees it."""
    screen = Screen(secrets_of({"env": f"TOKEN={SECRET}\n"}))
    shown = screen.text(printable("x" * (499 - kept) + SECRET + " and more", 500))
    assert shown == "x" * (499 - kept) + "***…"


def test_a_secret_straddling_the_cap_of_a_remote_command_error_is_masked() -> None:
    output = "y" * (4000 - 8) + SECRET + "\n"
    error = RemoteCommandError("starting green", "docker compose up", 1, output)
    Screen([SECRET]).error(error)
    assert str(error).endswith("yyyy***…")
    assert "hunt" not in str(error)


def test_a_cut_line_of_a_multiline_secret_is_masked() -> None:
    key = "-----BEGIN KEY-----\nAAAAbbbbCCCCddddEEEE\n-----END KEY-----\n"
    screen = Screen([key])
    assert screen.text(printable("z" * 490 + "AAAAbbbbCCCCddddEEEE", 500)) == "z" * 490 + "***…"


def test_text_not_cut_before_the_ellipsis_keeps_what_is_no_secret() -> None:
    screen = Screen([SECRET])
    assert screen.text("waiting… hunte… x…") == "waiting… ***… x…"  # "hunte" begins the secret
    assert screen.text("no cut here: hunter2-sec") == "no cut here: hunter2-sec"
