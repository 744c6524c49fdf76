"""Builds the lab's images offline: mmdebstrap trees imported as bases, small Dockerfiles on top.
Images whose recipe tag already exists are skipped."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors

from lab.mirror import debian_mirror
from lab.progress import say
from lab.recipes import MMDEBSTRAP_OPTIONS, BaseRecipe, ImageRecipe


class BuildFailed(RuntimeError):
    pass


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _bootstrap(client: docker.DockerClient, base: BaseRecipe, mirror: str, workdir: Path) -> None:
    tarball = workdir / f"{base.name}.tar"
    log = workdir / f"{base.name}.log"
    command = [
        "mmdebstrap",
        *MMDEBSTRAP_OPTIONS,
        f"--include={','.join(base.packages)}",
        base.suite,
        str(tarball),
        mirror,
    ]
    started = time.monotonic()
    with log.open("wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise BuildFailed(f"mmdebstrap {base.suite} failed ({done.returncode}):\n{tail}")
    repository, tag = base.tag.split(":")
    result = client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)
    if not image_exists(client, base.tag):
        raise BuildFailed(f"docker import of {base.tag} failed: {result}")
    tarball.unlink()
    say(f"base {base.tag}: {time.monotonic() - started:.0f} s")


def _build(client: docker.DockerClient, recipe: ImageRecipe) -> None:
    started = time.monotonic()
    try:
        client.images.build(
            path=str(recipe.context),
            tag=recipe.tag,
            buildargs={"BASE": recipe.base.tag, **recipe.buildargs},
            rm=True,
            forcerm=True,
            pull=False,
        )
    except docker.errors.BuildError as error:
        lines = "".join(str(entry.get("stream", entry.get("error", ""))) for entry in error.build_log)
        raise BuildFailed(f"building {recipe.tag} failed: {error.msg}\n{lines}") from error
    say(f"image {recipe.tag}: {time.monotonic() - started:.0f} s")


def ensure_images(client: docker.DockerClient, recipes: Iterable[ImageRecipe]) -> None:
    """Build whatever of `recipes` (and their bases) is missing."""
    missing = [r for r in recipes if not image_exists(client, r.tag)]
    if not missing:
        return
    bases = {r.base.tag: r.base for r in missing if not image_exists(client, r.base.tag)}
    if bases:
        mirror = debian_mirror()
        say(f"bootstrapping {', '.join(b.name for b in bases.values())} from {mirror}")
        with (
            tempfile.TemporaryDirectory(prefix="bluegreen-lab-", dir="/var/tmp") as workdir,
            ThreadPoolExecutor(max_workers=len(bases)) as pool,
        ):
            jobs = [pool.submit(_bootstrap, client, base, mirror, Path(workdir)) for base in bases.values()]
            for job in jobs:
                job.result()
    for recipe in missing:
        _build(client, recipe)
