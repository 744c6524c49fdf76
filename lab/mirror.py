"""The Debian mirror this machine's apt uses: images are bootstrapped from it."""

from __future__ import annotations

from pathlib import Path

APT_DIR = Path("/etc/apt")
DEBIAN_SUITES = {
    "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
    "oldstable", "stable", "testing", "unstable",
}  # fmt: skip


class MirrorNotFound(RuntimeError):
    pass


def _deb822_uris(text: str) -> list[tuple[str, list[str]]]:
    """(URI, suites) of each `Types: deb` stanza of a deb822 .sources file."""
    found: list[tuple[str, list[str]]] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        suites = fields.get("suites", "").split()
        found.extend((uri, suites) for uri in fields.get("uris", "").split())
    return found


def _one_line_uris(text: str) -> list[tuple[str, list[str]]]:
    """(URI, [suite]) of each `deb URI suite ...` line of a sources.list file."""
    found: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        words = [w for w in line.split("#", 1)[0].split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb":
            found.append((words[1], [words[2]]))
    return found


def debian_mirror(apt_dir: Path = APT_DIR) -> str:
    """The first Debian archive URI (not the security archive) of apt's sources."""
    candidates: list[tuple[str, list[str]]] = []
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        candidates += _deb822_uris(path.read_text())
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            candidates += _one_line_uris(path.read_text())
    for uri, suites in candidates:
        is_debian = any(suite.split("-")[0] in DEBIAN_SUITES for suite in suites)
        is_security = "security" in uri or any("security" in s for s in suites)
        if uri.startswith(("http://", "https://")) and is_debian and not is_security:
            return uri.rstrip("/")
    raise MirrorNotFound(f"no Debian archive URI in {apt_dir}/sources.list(.d)")
