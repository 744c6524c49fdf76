"""What of the workspace one color needs on the host: its compose files and the local files they name.

Pure: it reads local files and decides; it never touches a host. Compose resolves every relative
path of every `-f` file against the directory of the first one (the project directory) and reads
`.env` there, so the upload keeps the files' relative layout under one root, the deepest directory
that holds them all. Files a compose file pulls in (`extends: {file: ...}`, top-level `include:`)
are followed the same way, their own paths resolved against their own directory. A bind source
missing from the repository is the app's data directory: never uploaded, it is named in
`Bundle.data_mounts` (see appdata.py). `.git` is never uploaded. Every check raises InputError before
anything connects.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

import yaml

from bluegreen.errors import InputError

COMPOSE_INPUT = "compose-file"
SHARED_INPUT = "shared-services"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
ENV_FILE_VARIABLE = ("${BLUEGREEN_ENV_FILE}", "$BLUEGREEN_ENV_FILE")
"""bluegreen writes that file itself from the `env` input: nothing to upload."""
ENV_FILE_NAME = "BLUEGREEN_ENV_FILE"
NEVER_UPLOADED = frozenset({".git"})
"""Where actions/checkout keeps the job's token (and the repository's whole history)."""
NOTHING_RESERVED: Mapping[str, str] = MappingProxyType({})
PRIVATE_MODE = 0o600


@dataclass(frozen=True)
class Upload:
    local: Path
    """Absolute local path of the file (symlinks followed)."""
    remote: str
    """POSIX path relative to the directory the bundle is uploaded into (the color's, or a release's)."""
    mode: int
    """Permission bits there: the local file's, or owner-only when it is not world-readable."""


@dataclass(frozen=True)
class Bundle:
    uploads: tuple[Upload, ...]
    """Every file to upload, the compose files first, no duplicates."""
    compose_files: tuple[str, ...]
    """Remote relative paths of the compose files, in the given order (for `-f`)."""
    services: tuple[str, ...]
    """Service names defined across the compose files, in order of first definition."""
    total_bytes: int
    project_volumes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Service -> the project's named volumes (top-level `volumes:` without a `name:` of their
    own) it mounts: compose names these `<project>_<volume>`."""
    data_mounts: tuple[DataMount, ...] = ()
    """Bind mounts whose source is not in the repository: what the app writes there is its data."""
    mentions_env_file: bool = False
    """Whether any compose file names ${BLUEGREEN_ENV_FILE} (then it chose where the file goes)."""
    uses_include: bool = False
    """Whether a compose file has a top-level `include:` (compose v2 only)."""
    images: dict[str, str] = field(default_factory=dict)
    """Service -> its `image:` as written (for the database warning)."""

    def volumes_of(self, services: Sequence[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for s in services for v in self.project_volumes.get(s, ())))


@dataclass(frozen=True)
class DataMount:
    """One bind mount of a service whose source is missing from the repository."""

    service: str
    remote: str
    """The source's POSIX path relative to the upload root: its name under the app's data folder."""
    entry: str | Mapping[str, Any]
    """The volume entry as written (short or long syntax): the override replaces its source."""
    source: str
    """The source as written in the entry."""


@dataclass(frozen=True)
class _Reference:
    path: Path
    """Absolute and normalized without following symlinks, as compose on the host will see it."""
    owner: str
    """Who names the path, for messages: "service 'web'", "the compose files", ..."""
    mount: tuple[str, str | Mapping[str, Any], str] | None = None
    """For a bind source: (service, the volume entry, the source as written)."""


@dataclass(frozen=True)
class _Document:
    path: Path
    """Lexical absolute path of the file."""
    data: dict[str, Any]
    base: Path
    """The directory its relative paths are resolved against."""


@dataclass(frozen=True)
class _LocalFile:
    path: Path
    """Where the file sits in the layout (lexical, like _Reference.path)."""
    resolved: Path
    owner: str


def plan_bundle(
    compose_files: Sequence[Path],
    workspace: Path,
    *,
    shared_by_colors: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
    reserved: Mapping[str, str] = NOTHING_RESERVED,
) -> Bundle:
    """The files one color needs on the host and where they go, or an InputError saying why not.

    `reserved` maps remote paths that bluegreen writes itself beside the uploads to what they are
    (e.g. {"app.env": "the file bluegreen writes from the `env` input"}); a file landing there, or
    below it, is refused.
    """
    if not compose_files:
        raise InputError(COMPOSE_INPUT, "names no file", "Set `compose-file` to the app's compose file(s)")
    compose_paths = [_lexical(path) for path in compose_files]
    project_dir = compose_paths[0].parent
    top = [_Document(path, _load_compose(path), project_dir) for path in compose_paths]
    included = _included(top, workspace)
    project = [*top, *included]
    documents = [document.data for document in project]
    if shared_by_colors:
        _refuse_container_names(documents)
    references = [_Reference(path, "the compose files") for path in compose_paths]
    references += [_Reference(document.path, "an `include` of the compose files") for document in included]
    references += _project_env(project_dir)
    pulled_in: list[_Document] = []
    for document in project:
        references += _service_references(document, workspace, pulled_in)
        references += _secret_and_config_files(document.data, document.base, workspace)
    references += [_Reference(document.path, "an `extends` of the compose files") for document in pulled_in]
    allowed = (workspace.resolve(), project_dir.resolve())
    files = [file for ref in references for file in _files_of(ref, allowed, workspace)]
    root = _layout_root(references)
    uploads = _uploads(files, root, workspace, reserved)
    total = sum(upload.local.stat().st_size for upload in uploads)
    if total > max_bytes:
        raise InputError(COMPOSE_INPUT, _too_big(uploads, total, max_bytes), _TOO_BIG_FIX)
    return Bundle(
        uploads=uploads,
        compose_files=tuple(_remote(path, root) for path in compose_paths),
        services=_service_names(documents),
        total_bytes=total,
        project_volumes=_project_volumes(documents),
        data_mounts=_data_mounts(references, root),
        mentions_env_file=any(_mentions(d.data, ENV_FILE_NAME) for d in (*project, *pulled_in)),
        uses_include=bool(included),
        images=_images(documents),
    )


def check_shared_services(names: Sequence[str], bundle: Bundle) -> None:
    """Refuse names that no compose file of the bundle defines."""
    unknown = [name for name in names if name not in bundle.services]
    if unknown:
        raise InputError(
            SHARED_INPUT,
            f"names {_quoted(unknown)}, which the compose files do not define",
            f"Use services of the compose files: {_quoted(bundle.services)}",
        )


def parse_service_list(text: str) -> tuple[str, ...]:
    """Comma- or newline-separated names, stripped, without empties or repeats."""
    names = (part.strip() for part in re.split(r"[\n,]", text))
    return tuple(dict.fromkeys(name for name in names if name))


# --- compose files -------------------------------------------------------------------------------


def _load_compose(path: Path) -> dict[str, Any]:
    """The compose document, with the errors config.py gives for the same problems."""
    if not path.is_file():
        raise InputError(
            COMPOSE_INPUT,
            f"{path} does not exist",
            "Point `compose-file` at the app's compose file, relative to the workspace",
        )
    try:
        document: Any = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise InputError(
            COMPOSE_INPUT, f"{path} is not valid YAML ({_yaml_problem(exc)})", "Fix the file's syntax"
        ) from None
    if not isinstance(document, dict) or not document.get("services"):
        raise InputError(COMPOSE_INPUT, f"{path} defines no services", "Add a `services:` section to it")
    if not isinstance(document["services"], dict):
        raise InputError(
            COMPOSE_INPUT,
            f"{path}: `services` is not a mapping of service names",
            "Write `services:` as `name: {...}` entries",
        )
    return document


def _mentions(value: Any, name: str) -> bool:
    """Whether any key or value of a YAML tree names the variable (comments do not count)."""
    if isinstance(value, str):
        return name in value
    if isinstance(value, dict):
        return any(_mentions(k, name) or _mentions(v, name) for k, v in value.items())
    if isinstance(value, list):
        return any(_mentions(item, name) for item in value)
    return False


def _images(documents: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {
        name: str(body["image"])
        for document in documents
        for name, body in _services(document)
        if isinstance(body.get("image"), str)
    }


def _data_mounts(references: Sequence[_Reference], root: Path) -> tuple[DataMount, ...]:
    """The bind mounts whose source the repository does not have: the app's data folders."""
    mounts = []
    for ref in references:
        if ref.mount is None or ref.path.exists() or ref.path.is_symlink():
            continue
        service, entry, source = ref.mount
        remote = _remote(ref.path, root)
        if not remote or remote == ".":
            continue
        mounts.append(DataMount(service, remote, entry, source))
    return tuple(mounts)


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def _services(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, body in document["services"].items():
        yield str(name), body if isinstance(body, dict) else {}


def _service_names(documents: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for document in documents for name, _ in _services(document)))


def _project_volumes(documents: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    declared: dict[str, Any] = {}
    for document in documents:
        top = document.get("volumes")
        declared.update(top if isinstance(top, dict) else {})
    own = {name for name, spec in declared.items() if not (isinstance(spec, dict) and spec.get("name"))}
    used: dict[str, dict[str, None]] = {}
    for document in documents:
        for service, body in _services(document):
            for volume in body.get("volumes") or []:
                source = _volume_source(volume)
                if source in own:
                    used.setdefault(service, {})[source] = None
    return {service: tuple(names) for service, names in used.items()}


def _volume_source(volume: Any) -> str | None:
    if isinstance(volume, str):
        return volume.split(":", 1)[0] if ":" in volume else None
    if isinstance(volume, dict) and volume.get("type", "volume") == "volume":
        return str(volume.get("source") or "") or None
    return None


def _refuse_container_names(documents: Sequence[Mapping[str, Any]]) -> None:
    for document in documents:
        for name, service in _services(document):
            if "container_name" in service:
                raise InputError(
                    COMPOSE_INPUT,
                    f"service '{name}' sets container_name '{service['container_name']}', but the same "
                    "compose file runs both colors, so the second color's container could not start",
                    "Use one compose file per color with {color} in its name (e.g. `compose-file: "
                    "deploy/docker-compose.{color}.yml`), or drop `container_name`",
                )


# --- the paths a compose file names --------------------------------------------------------------


def _project_env(project_dir: Path) -> list[_Reference]:
    env = project_dir / ".env"
    return [_Reference(env, "compose (the project's .env)")] if env.exists() else []


def _service_references(
    document: _Document, workspace: Path, pulled_in: list[_Document]
) -> Iterator[_Reference]:
    for name, service in _services(document.data):
        yield from _one_service(name, service, document, workspace, pulled_in, name)


def _one_service(
    name: str,
    service: Mapping[str, Any],
    document: _Document,
    workspace: Path,
    pulled_in: list[_Document],
    runs_as: str,
    depth: int = 0,
) -> Iterator[_Reference]:
    """The paths one service names, and those of the service it extends (in its own file or
    another); `runs_as` is the service of the project that inherits them."""
    owner = f"service '{name}'"
    for value, required in _env_file_entries(service.get("env_file"), owner):
        fix = "Add the file to the repository, or mark it `required: false`"
        yield from _named_file(value, owner, "env_file", required, fix, document.base, workspace)
    for entry, source, relative in _bind_sources(service.get("volumes"), owner):
        yield _Reference(_lexical(document.base / relative), owner, (runs_as, entry, source))
    extends = service.get("extends")
    if extends is None:
        return
    if depth > 20:
        raise InputError(COMPOSE_INPUT, f"{owner} extends in a loop", "Remove the loop of `extends`")
    base_name, base_document = _extended(extends, owner, document, workspace, pulled_in)
    base_service = dict(_services(base_document.data)).get(base_name)
    if base_service is None:
        raise InputError(
            COMPOSE_INPUT,
            f"{owner} extends the service '{base_name}', which {_shown(base_document.path, workspace)} "
            "does not define",
            "Name a service of that file in `extends`",
        )
    yield from _one_service(base_name, base_service, base_document, workspace, pulled_in, runs_as, depth + 1)


def _extended(
    extends: Any, owner: str, document: _Document, workspace: Path, pulled_in: list[_Document]
) -> tuple[str, _Document]:
    """The service an `extends` names and the document it is in (loaded, when another file)."""
    if isinstance(extends, str):
        return extends, document
    if not isinstance(extends, dict) or not isinstance(extends.get("service"), str):
        raise InputError(
            COMPOSE_INPUT,
            f"{owner} has an `extends` that names no service: {extends!r}",
            "Write `extends: {service: NAME}` or `extends: {file: FILE, service: NAME}`",
        )
    file = extends.get("file")
    if file is None:
        return extends["service"], document
    relative = _relative_path(str(file), owner)
    if relative is None:
        raise InputError(
            COMPOSE_INPUT,
            f"{owner} extends a file on the server ({file}): bluegreen uploads the compose files "
            "from the repository",
            "Keep the file in the repository and name it by a relative path",
        )
    path = _lexical(document.base / relative)
    if not path.is_file():
        raise InputError(
            COMPOSE_INPUT,
            f"{owner} extends '{file}', but {_shown(path, workspace)} does not exist",
            "Add the file to the repository",
        )
    # Compose resolves the extended service's relative paths against the directory of its file.
    loaded = next((d for d in pulled_in if d.path == path), None) or _Document(
        path, _load_compose(path), path.parent
    )
    if loaded not in pulled_in:
        pulled_in.append(loaded)
    return extends["service"], loaded


def _included(top: Sequence[_Document], workspace: Path) -> list[_Document]:
    """Every file a top-level `include:` pulls in (recursively); each is a project directory of its
    own: its relative paths start at its own directory (or its `project_directory`)."""
    found: list[_Document] = []
    queue = list(top)
    while queue:
        document = queue.pop(0)
        for path, base in _include_entries(document, workspace):
            if any(path == seen.path for seen in (*top, *found)):
                continue
            if not path.is_file():
                raise InputError(
                    COMPOSE_INPUT,
                    f"the include of {_shown(document.path, workspace)} names "
                    f"{_shown(path, workspace)}, which does not exist",
                    "Add the file to the repository, or remove it from `include:`",
                )
            included = _Document(path, _load_compose(path), base)
            found.append(included)
            queue.append(included)
    return found


def _include_entries(document: _Document, workspace: Path) -> Iterator[tuple[Path, Path]]:
    entries = document.data.get("include")
    if entries is None:
        return
    owner = f"the include of {_shown(document.path, workspace)}"
    for entry in entries if isinstance(entries, list) else [entries]:
        spec = {"path": entry} if isinstance(entry, str) else entry
        paths = spec.get("path") if isinstance(spec, dict) else None
        paths = [paths] if isinstance(paths, str) else paths
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise InputError(
                COMPOSE_INPUT,
                f"{owner} has an entry that names no file: {entry!r}",
                "Write each entry as a path, or as `{path: FILE}`",
            )
        directory = spec.get("project_directory") if isinstance(spec, dict) else None
        for value in paths:
            relative = _relative_path(value, owner)
            if relative is None:
                raise InputError(
                    COMPOSE_INPUT,
                    f"{owner} names a file on the server ({value}): bluegreen uploads the compose "
                    "files from the repository",
                    "Keep the file in the repository and name it by a relative path",
                )
            path = _lexical(document.base / relative)
            base = _lexical(document.base / directory) if isinstance(directory, str) else path.parent
            yield path, base


def _secret_and_config_files(
    document: Mapping[str, Any], project_dir: Path, workspace: Path
) -> Iterator[_Reference]:
    """Top-level secrets and configs with a `file:`: compose reads those on the host too."""
    for section in ("secrets", "configs"):
        entries = document.get(section)
        for name, spec in entries.items() if isinstance(entries, dict) else []:
            if isinstance(spec, dict) and isinstance(spec.get("file"), str):
                owner = f"{section[:-1]} '{name}'"
                fix = "Add the file to the repository"
                yield from _named_file(spec["file"], owner, "the file", True, fix, project_dir, workspace)


def _named_file(
    value: str, owner: str, kind: str, required: bool, fix: str, project_dir: Path, workspace: Path
) -> Iterator[_Reference]:
    """The file a compose entry names, if it is local; a missing required one is refused."""
    relative = _relative_path(value, owner)
    if relative is None:
        return
    path = _lexical(project_dir / relative)
    if path.exists():
        yield _Reference(path, owner)
    elif required:
        raise InputError(
            COMPOSE_INPUT,
            f"{owner} needs {kind} '{value}', but {_shown(path, workspace)} does not exist",
            fix,
        )


def _env_file_entries(value: Any, owner: str) -> Iterator[tuple[str, bool]]:
    """(path, required) of each `env_file` entry: a string, or a list of strings and mappings."""
    entries = value if isinstance(value, list) else [] if value is None else [value]
    for entry in entries:
        if isinstance(entry, str):
            yield entry, True
        elif isinstance(entry, dict) and isinstance(entry.get("path"), str):
            yield entry["path"], entry.get("required", True) is not False
        else:
            raise InputError(
                COMPOSE_INPUT,
                f"{owner} has an env_file entry that is not a path: {entry!r}",
                "Give a path, or a `{path: ..., required: false}` mapping",
            )


def _bind_sources(volumes: Any, owner: str) -> Iterator[tuple[str | Mapping[str, Any], str, str]]:
    """(the entry, its source as written, the relative local path) of each local bind mount."""
    for volume in volumes if isinstance(volumes, list) else []:
        if isinstance(volume, str):
            source = _short_syntax_source(volume)
            if source is None or _is_volume_name(source):
                continue
        elif isinstance(volume, dict) and volume.get("type") == "bind":
            source = str(volume.get("source", ""))
        else:
            continue
        relative = _relative_path(source, owner)
        if relative is not None:
            yield volume, source, relative


def _short_syntax_source(volume: str) -> str | None:
    """SOURCE of `SOURCE:TARGET[:MODE]`; None for a bare TARGET. Colons inside ${...} do not split."""
    depth = 0
    for index, char in enumerate(volume):
        if volume.startswith("${", index):
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char == ":" and not depth:
            return volume[:index]
    return None


def _is_volume_name(source: str) -> bool:
    return "/" not in source and not source.startswith((".", "~", "$"))


def _relative_path(value: str, owner: str) -> str | None:
    """The local path to upload, or None for bluegreen's env file and paths on the host."""
    if value in ENV_FILE_VARIABLE or value.startswith(("/", "~")):
        return None
    if "$" in value:
        raise InputError(
            COMPOSE_INPUT,
            f"{owner} names the path '{value}': bluegreen cannot know what ${{...}} means on the "
            "server, so it cannot tell which local file to upload",
            "Use a literal relative path (e.g. ./conf) for files in the repository, "
            "or an absolute path for files on the server",
        )
    return value or None


# --- the files and where they land ---------------------------------------------------------------


def _files_of(ref: _Reference, allowed: Sequence[Path], workspace: Path) -> list[_LocalFile]:
    """The files to upload for one path: itself, every file below a directory, none if missing."""
    resolved = ref.path.resolve()
    if ref.path.name in NEVER_UPLOADED:
        return []
    _require_inside(ref.path, resolved, ref.owner, allowed, workspace)
    try:
        if resolved.is_dir():
            return _walk(ref.path, resolved, ref.owner, allowed, workspace, (resolved,))
    except OSError as exc:
        raise InputError(
            COMPOSE_INPUT, f"{_shown(ref.path, workspace)} cannot be read ({exc})", "Check its permissions"
        ) from None
    # A missing bind source is created on the host by compose; it still shapes the layout.
    return [_LocalFile(ref.path, resolved, ref.owner)] if resolved.is_file() else []


def _walk(
    directory: Path,
    resolved: Path,
    owner: str,
    allowed: Sequence[Path],
    workspace: Path,
    seen: tuple[Path, ...],
) -> list[_LocalFile]:
    files: list[_LocalFile] = []
    for entry in sorted(resolved.iterdir()):
        if entry.name in NEVER_UPLOADED:
            continue
        path = directory / entry.name
        target = entry.resolve()
        if entry.is_symlink():
            _require_inside(path, target, owner, allowed, workspace)
            if not target.exists():
                raise InputError(
                    COMPOSE_INPUT,
                    f"{_shown(path, workspace)}, used by {owner}, is a broken symlink",
                    "Remove it or point it at a file in the repository",
                )
        if target.is_dir():
            if target in seen:
                raise InputError(
                    COMPOSE_INPUT,
                    f"{_shown(path, workspace)}, used by {owner}, is a symlink to its own parent",
                    "Remove the symlink loop",
                )
            files += _walk(path, target, owner, allowed, workspace, (*seen, target))
        elif target.is_file():
            files.append(_LocalFile(path, target, owner))
    return files


def _require_inside(path: Path, resolved: Path, owner: str, allowed: Sequence[Path], workspace: Path) -> None:
    if not any(resolved.is_relative_to(root) for root in allowed):
        raise InputError(
            COMPOSE_INPUT,
            f"{_shown(path, workspace)}, used by {owner}, resolves to {resolved}, outside the workspace",
            "Keep the files the app needs in the repository, or mount an absolute path on the server",
        )


def _layout_root(references: Sequence[_Reference]) -> Path:
    """The deepest directory holding every referenced path (a missing one becomes a directory)."""
    anchors = [ref.path.parent if ref.path.is_file() else ref.path for ref in references]
    return Path(os.path.commonpath(anchors))


def _uploads(
    files: Sequence[_LocalFile], root: Path, workspace: Path, reserved: Mapping[str, str]
) -> tuple[Upload, ...]:
    """One Upload per remote path, compose files first; two files on one remote path are refused."""
    claimed = dict(reserved)
    uploads: dict[str, Upload] = {}
    for file in files:
        remote = _remote(file.path, root)
        if remote in uploads and uploads[remote].local == file.resolved:
            continue
        clash = next((claimed[r] for r in _self_and_parents(remote) if r in claimed), None)
        if clash is not None:
            raise InputError(
                COMPOSE_INPUT,
                f"{_shown(file.path, workspace)}, used by {file.owner}, would land on '{remote}' "
                f"on the host, where {clash} goes",
                "Rename or move one of them",
            )
        claimed[remote] = _shown(file.path, workspace)
        uploads[remote] = Upload(file.resolved, remote, _mode(file.resolved))
    return tuple(uploads.values())


def _self_and_parents(remote: str) -> list[str]:
    path = PurePosixPath(remote)
    return [remote, *(parent.as_posix() for parent in path.parents if parent.name)]


def _remote(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _mode(path: Path) -> int:
    """The local permission bits; a file others cannot read (a secret) becomes owner-only."""
    bits = stat.S_IMODE(path.stat().st_mode) & 0o777
    return bits if bits & stat.S_IROTH else PRIVATE_MODE | (bits & stat.S_IXUSR)


_TOO_BIG_FIX = "Keep large files out of the mounted paths (bake them into the image), or raise the limit"


def _too_big(uploads: Sequence[Upload], total: int, max_bytes: int) -> str:
    biggest = sorted(uploads, key=lambda upload: upload.local.stat().st_size, reverse=True)[:3]
    listed = ", ".join(f"{upload.remote} ({_mib(upload.local.stat().st_size)})" for upload in biggest)
    return (
        f"the files to upload take {_mib(total)}, over the limit of {_mib(max_bytes)}; the biggest: {listed}"
    )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


# --- helpers -------------------------------------------------------------------------------------


def _lexical(path: Path) -> Path:
    """Absolute, with `..` removed by name as compose does, symlinks kept."""
    return Path(os.path.normpath(os.path.abspath(path)))


def _shown(path: Path, workspace: Path) -> str:
    base = _lexical(workspace)
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
