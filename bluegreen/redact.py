"""Secrets out of text: every secret value (and each line of a multi-line one) becomes ***."""

from __future__ import annotations

from collections.abc import Iterable

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


def redact(text: str, fragments: Iterable[str]) -> str:
    """`text` with each fragment replaced by ***."""
    for fragment in fragments:
        text = text.replace(fragment, MASK)
    return text
