"""Where things live in the app's directory on the host."""

from __future__ import annotations

from dataclasses import dataclass

from bluegreen.host import Host


@dataclass(frozen=True)
class Layout:
    """Where things live in the app's directory on the host."""

    app_dir: str

    def color_dir(self, color: str) -> str:
        return f"{self.app_dir}/{color}"

    def env_file(self, color: str) -> str:
        return f"{self.color_dir(color)}/app.env"

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


def resolve_remote_dir(remote_dir: str, host: Host) -> str:
    if remote_dir == "~":
        return host.home()
    if remote_dir.startswith("~/"):
        return f"{host.home()}/{remote_dir[2:]}".rstrip("/")
    return remote_dir
