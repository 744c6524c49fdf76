"""What one command reports back: the outputs of the action and the CLI's summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bluegreen.smoke import SmokeCheck


@dataclass(frozen=True)
class HostOutcome:
    """One host's part in a run (the `hosts-json` output)."""

    host: str
    active_color: str
    status: str
    duration_seconds: float
    failed_phase: str = ""


@dataclass(frozen=True)
class Result:
    command: str
    status: str
    app_name: str
    active_color: str
    previous_color: str
    image: str
    duration_seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    lock_holder: str = ""
    deployed_at: str = ""
    deployed_by: str = ""
    certificate_expires: str = ""
    switch_mode: str = ""
    """`seamless` (njs picks the color per request: nothing reloaded) or `reload`."""
    smoke: tuple[SmokeCheck, ...] = ()
    """The smoke paths' results (`smoke-paths`), in order."""
    hosts: tuple[HostOutcome, ...] = ()
    """Every host's part, in the order of `hosts`."""
    deploy_id: str = ""
    """The id shared by every host's audit line (deploy, rollback)."""
    canary: str = ""
    """A canary: each passed step's figures beside the limits, or the paused canary's split and
    step (also for `status`); "" otherwise."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
