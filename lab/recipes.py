"""What the lab's images are made of. Every image is tagged by a hash of its recipe, so an
image whose tag exists is up to date and is never built again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from lab.settings import DEMO_VARIANTS, DEMO_VERSIONS, DEPLOY_UID, IMAGES_DIR

# Options of every mmdebstrap run: a small tree, no docs, no recommends, no baked host keys.
MMDEBSTRAP_OPTIONS = (
    "--variant=minbase",
    "--format=tar",
    '--aptopt=APT::Install-Recommends "false"',
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    '--customize-hook=rm -f "$1"/etc/ssh/ssh_host_*',
)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BaseRecipe:
    """A Debian tree from mmdebstrap, imported as an image."""

    name: str
    suite: str
    packages: tuple[str, ...]

    @property
    def tag(self) -> str:
        digest = _digest(self.suite, sorted(self.packages), MMDEBSTRAP_OPTIONS)
        return f"bluegreen-lab/base-{self.name}:{digest}"


@dataclass(frozen=True)
class ImageRecipe:
    """A small Dockerfile (with its context directory) on top of a base."""

    name: str
    base: BaseRecipe
    context: Path
    buildargs: dict[str, str] = field(default_factory=dict)

    def context_files(self) -> list[tuple[str, str]]:
        return [
            (str(path.relative_to(self.context)), hashlib.sha256(path.read_bytes()).hexdigest())
            for path in sorted(self.context.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        ]

    @property
    def tag(self) -> str:
        digest = _digest(self.base.tag, self.buildargs, self.context_files())
        return f"bluegreen-lab/{self.name}:{digest}"


# Payload images (pushed to the registry): the demo app and the proxy. The demo app's base has
# Debian's nginx WITHOUT njs (so the lab keeps an nginx that cannot switch without a reload: the
# demo image works as such a proxy); the proxy's base adds njs (libnginx-mod-http-js), whose module
# is /usr/lib/nginx/modules/ngx_http_js_module.so.
RUNTIME_TRIXIE = BaseRecipe("trixie-runtime", "trixie", ("python3", "nginx"))
PROXY_TRIXIE = BaseRecipe("trixie-proxy", "trixie", ("nginx", "libnginx-mod-http-js"))
NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"
# Infrastructure: compose v2 server and the registry.
SERVER_TRIXIE = BaseRecipe(
    "trixie-server", "trixie", ("openssh-server", "docker-cli", "docker-compose", "docker-registry")
)
# Compose v1 server (docker-compose 1.29, no `docker compose`).
SERVER_BOOKWORM = BaseRecipe("bookworm-server", "bookworm", ("openssh-server", "docker.io", "docker-compose"))

_SERVER_ARGS = {"DEPLOY_UID": str(DEPLOY_UID)}
SERVER_V2 = ImageRecipe("server-v2", SERVER_TRIXIE, IMAGES_DIR / "server", _SERVER_ARGS)
SERVER_V1 = ImageRecipe("server-v1", SERVER_BOOKWORM, IMAGES_DIR / "server", _SERVER_ARGS)
REGISTRY = ImageRecipe("registry", SERVER_TRIXIE, IMAGES_DIR / "registry")
NGINX = ImageRecipe("nginx", PROXY_TRIXIE, IMAGES_DIR / "nginx", {"NJS_MODULE": NJS_MODULE})

_FLAVOURS = {"slow-start": "slow-start", "broken": "broken"}
DEMO = {
    version: ImageRecipe(
        f"demo-{version}",
        RUNTIME_TRIXIE,
        IMAGES_DIR / "demo_app",
        {"APP_VERSION": version, "APP_FLAVOUR": _FLAVOURS.get(version, "normal")},
    )
    for version in DEMO_VERSIONS
    if version not in DEMO_VARIANTS
}
# Canary tests' bad versions: built on top of demo v2 (its own recipe, so adding them leaves the
# demo images' tags as they are).
DEMO.update(
    {
        flavour: ImageRecipe(
            f"demo-{flavour}",
            RUNTIME_TRIXIE,
            IMAGES_DIR / "demo_variant",
            {"DEMO": DEMO["v2"].tag, "VARIANT": flavour},
        )
        for flavour in DEMO_VARIANTS
    }
)

ALL_IMAGES = (SERVER_V2, SERVER_V1, REGISTRY, NGINX, *DEMO.values())
