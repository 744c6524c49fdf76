"""A truncated or damaged private key is one InputError naming ssh-key, never a traceback
(paramiko raises IndexError for some cuts)."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bluegreen.config import load_private_key
from bluegreen.errors import InputError

OPENSSH, PEM = serialization.PrivateFormat.OpenSSH, serialization.PrivateFormat.TraditionalOpenSSL
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
KEYS: dict[str, tuple[PrivateKey, serialization.PrivateFormat]] = {
    "ed25519-openssh": (ed25519.Ed25519PrivateKey.generate(), OPENSSH),
    "ecdsa-openssh": (ec.generate_private_key(ec.SECP256R1()), OPENSSH),
    "ecdsa-pem": (ec.generate_private_key(ec.SECP256R1()), PEM),
    "rsa-openssh": (rsa.generate_private_key(65537, 2048), OPENSSH),
    "rsa-pem": (rsa.generate_private_key(65537, 2048), PEM),
}


def key_text(name: str) -> str:
    key, key_format = KEYS[name]
    encoding = serialization.Encoding.PEM
    return key.private_bytes(encoding, key_format, serialization.NoEncryption()).decode()


@pytest.mark.parametrize("name", KEYS)
def test_the_whole_key_loads(name: str) -> None:
    load_private_key(key_text(name), "")


@pytest.mark.parametrize("name", KEYS)
def test_a_key_cut_anywhere_is_an_input_error_naming_ssh_key(name: str) -> None:
    text = key_text(name)
    lines = text.splitlines()
    end = lines[-1]
    for cut in range(len(lines[0]) + 1, len(text) - len(end) - 1, 3):
        for damaged in (text[:cut], f"{text[:cut]}\n{end}\n", text[:cut] + text[cut + 7 :]):
            try:
                load_private_key(damaged, "")  # a cut in the padding at the end may still load
            except InputError as error:
                assert error.input_name == "ssh-key", (cut, str(error))
