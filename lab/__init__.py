"""The lab: an offline, local stand-in for a user's servers (sshd + docker + compose v2 or v1),
an image registry, the demo app and the proxy image. `python -m lab up|down|info`."""

from lab.lifecycle import down, info, up

__all__ = ["down", "info", "up"]
