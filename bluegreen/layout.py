"""Where things live in the app's directory on the host."""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.host import Host

ENV_FILE_NAME = "app.env"
OVERRIDE_FILE_NAME = "bluegreen.override.yml"


@dataclass(frozen=True)
class Layout:
    """Where things live in the app's directory on the host."""

    app_dir: str

    def color_dir(self, color: str) -> str:
        return f"{self.app_dir}/{color}"

    def releases_dir(self, color: str) -> str:
        return f"{self.color_dir(color)}/releases"

    def files_dir(self, color: str, release_id: str) -> str:
        """One release's compose files and what they refer to, with their relative layout. Each
        release has its own: the kept color's bind mounts stay intact while a deploy uploads."""
        return f"{self.releases_dir(color)}/{release_id}"

    def env_file(self, color: str) -> str:
        return f"{self.color_dir(color)}/{ENV_FILE_NAME}"

    def override_file(self, color: str) -> str:
        """bluegreen's own compose file, given after the user's: the app's shared network."""
        return f"{self.color_dir(color)}/{OVERRIDE_FILE_NAME}"

    def release_file(self, color: str) -> str:
        return f"{self.color_dir(color)}/release.json"

    def restart_file(self, color: str) -> str:
        """The restart policies a stopped color's containers had: put back when it starts again."""
        return f"{self.color_dir(color)}/restart-policies.json"

    @property
    def data_dir(self) -> str:
        """The app's data folders (bind sources missing from the repository), one per app, shared
        by both colors, never uploaded over and never cleaned up."""
        return f"{self.app_dir}/data"

    def data_path(self, remote: str) -> str:
        return f"{self.data_dir}/{remote}"

    @property
    def volumes_file(self) -> str:
        """Compose volume -> the Docker volume the app adopted for it (appdata.py)."""
        return f"{self.app_dir}/volumes.json"

    @property
    def shared_dir(self) -> str:
        return f"{self.app_dir}/shared"

    @property
    def nginx_dir(self) -> str:
        return f"{self.app_dir}/nginx"

    @property
    def live_config(self) -> str:
        return f"{self.nginx_dir}/nginx.conf"

    @property
    def next_config(self) -> str:
        return f"{self.nginx_dir}/nginx.conf.next"

    @property
    def proxy_dir(self) -> str:
        return f"{self.app_dir}/proxy"

    @property
    def state_file(self) -> str:
        return f"{self.app_dir}/state.json"

    @property
    def lock_file(self) -> str:
        return f"{self.app_dir}/.lock"

    @property
    def lock_holder_file(self) -> str:
        return f"{self.app_dir}/.lock-holder"

    @property
    def audit_log(self) -> str:
        return f"{self.app_dir}/audit.log"


WRITTEN_BESIDE_UPLOADS = {
    ENV_FILE_NAME: "the file bluegreen writes from the `env` input",
    OVERRIDE_FILE_NAME: "bluegreen's own compose override",
}
"""Names bluegreen writes in the shared services' directory, where their files are uploaded too."""


def resolve_remote_dir(remote_dir: str, host: Host) -> str:
    if remote_dir == "~":
        return host.home()
    if remote_dir.startswith("~/"):
        return f"{host.home()}/{remote_dir[2:]}".rstrip("/")
    return remote_dir
