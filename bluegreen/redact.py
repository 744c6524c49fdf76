"""Secrets out of text: every secret value (and each line of a multi-line one) becomes ***, and so
does the beginning of one that a shortened text cut off."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bluegreen.untrusted import ELLIPSIS

MASK = "***"
# Shorter fragments are left alone: masking every "1" or "ab" would garble the message while
# hiding nothing worth hiding.
MIN_SECRET_LENGTH = 3


def secret_fragments(secrets: Iterable[str]) -> tuple[str, ...]:
    """What to mask: each secret whole, each of its lines, with and without surrounding spaces.

    Longest first, so a secret is masked whole before a shorter secret inside it is.
    """
    fragments: set[str] = set()
    for secret in secrets:
        for candidate in (secret, *secret.splitlines()):
            for fragment in (candidate, candidate.strip()):
                if len(fragment) >= MIN_SECRET_LENGTH:
                    fragments.add(fragment)
    return tuple(sorted(fragments, key=lambda fragment: (-len(fragment), fragment)))


def redact(text: str, fragments: Sequence[str]) -> str:
    """`text` with each fragment replaced by ***, and the beginning of a fragment that ends just
    before an ellipsis (`printable` shortened the text there) too."""
    for fragment in fragments:
        text = text.replace(fragment, MASK)
    if ELLIPSIS not in text:
        return text
    pieces = text.split(ELLIPSIS)
    return ELLIPSIS.join([*(_without_cut_secret(piece, fragments) for piece in pieces[:-1]), pieces[-1]])


def _without_cut_secret(text: str, fragments: Sequence[str]) -> str:
    """`text` without the longest beginning of a fragment that it ends with (the rest was cut)."""
    cut = max((_cut_length(text, fragment) for fragment in fragments), default=0)
    return text[: len(text) - cut] + MASK if cut else text


def _cut_length(text: str, fragment: str) -> int:
    """The length of the longest beginning of fragment (shorter than it) that text ends with."""
    at = text.find(fragment[0], max(len(text) - len(fragment) + 1, 0))
    while at != -1:
        if fragment.startswith(text[at:]):
            return len(text) - at
        at = text.find(fragment[0], at + 1)
    return 0
