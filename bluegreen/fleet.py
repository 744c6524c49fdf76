"""A command across the fleet (one host is a fleet of one): the phases per host, the batching, the
fleet-wide undo and the per-host report.

deploy/rollback: preflight every host (in parallel), take every host's lock in sorted host order
(two fleet deploys never deadlock), prepare every host (in parallel, at most `parallel` at once;
the release command once, on the first host), switch in batches of `batch-size` (each batch
verified, then watched for `batch-wait` seconds), then finish every host with one deploy id. Any
failure before the finish moves every switched host back (its old color still runs) and takes the
new color away everywhere. A failure in the finish leaves every host on the new color.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import asdict, dataclass, replace

from bluegreen.at_once import at_once
from bluegreen.canary import Canary
from bluegreen.canary_gate import refuse_while_paused, take_back_stale_split
from bluegreen.detect import locked, preflight
from bluegreen.errors import BluegreenError, Cancelled, Failure
from bluegreen.finish import finish
from bluegreen.fleet_inputs import batches
from bluegreen.host_run import HostRun
from bluegreen.prepare import Prepare, Prepared
from bluegreen.progress import Reporter, Timer
from bluegreen.records import new_release_id
from bluegreen.result import HostOutcome, Result
from bluegreen.state import State
from bluegreen.switch import Strategy
from bluegreen.target import abort, host_result, host_status, promote, strategy_for

WATCH_EVERY = 1.0
"""Seconds between the verifications of a switched batch during `batch-wait`."""


class Stopped(Failure):
    """This host stopped at its next phase because another host failed (or the run was cancelled)."""


class HostReporter:
    """One host's messages in the run's log. In a fleet of several, each line names its host and its
    phases are lines (threads share the log); it notes the phase the host failed in, and stops the
    host at its next phase once the fleet is stopping."""

    def __init__(
        self, inner: Reporter, name: str, several: bool, stop: threading.Event, lock: threading.Lock
    ) -> None:
        self.inner, self.name, self.several, self.stop, self.lock = inner, name, several, stop, lock
        self.failed_phase = ""

    def phase_started(self, name: str) -> None:
        if self.stop.is_set():
            raise Stopped(f"{self.name} stopped before {name}: the fleet is stopping")
        with self.lock:
            if self.several:
                self.inner.info(f"{self.name}: {name}")
            else:
                self.inner.phase_started(name)

    def phase_ended(self, name: str, seconds: float, ok: bool) -> None:
        if not ok:
            self.failed_phase = self.failed_phase or name
        with self.lock:
            if self.several:
                self.inner.info(f"{self.name}: {name} {'done' if ok else 'FAILED'} ({seconds:.2f}s)")
            else:
                self.inner.phase_ended(name, seconds, ok)

    def info(self, message: str) -> None:
        with self.lock:
            self.inner.info(f"{self.name}: {message}" if self.several else message)

    def warning(self, message: str) -> None:
        with self.lock:
            self.inner.warning(f"{self.name}: {message}" if self.several else message)


@dataclass(eq=False)
class Member:
    """One host of the fleet and how far this run got there."""

    run: HostRun
    reporter: HostReporter
    prepare: Prepare | None = None
    prepared: Prepared | None = None
    strategy: Strategy | None = None
    switching: bool = False
    """Whether traffic may have moved on this host (its switch started)."""
    state: State | None = None
    status: str = ""

    @property
    def name(self) -> str:
        return self.reporter.name

    def outcome(self) -> HostOutcome:
        return HostOutcome(
            host=self.name,
            active_color=self.run.live or "",
            status=self.status,
            duration_seconds=self.run.timer.elapsed(),
            failed_phase=self.reporter.failed_phase,
        )


class Fleet:
    """The command on every host; a fleet of one runs each step in the main thread, as it always did."""

    def __init__(self, runs: Sequence[tuple[str, HostRun, HostReporter]], timer: Timer) -> None:
        self.members = [Member(run, reporter) for _, run, reporter in runs]
        self.config = self.members[0].run.config
        self.timer = timer
        self.stop = runs[0][2].stop
        self.several = len(self.members) > 1
        self.undone = False
        self.finishing = False
        """Whether the finish has begun on the hosts: from then on the switch stands."""

    # ---- deploy and rollback ----------------------------------------------------------------

    def deploy(self) -> Result:
        return self._change(lambda prepare: prepare.deploy())

    def rollback(self) -> Result:
        return self._change(lambda prepare: prepare.rollback())

    def promote(self) -> Result:
        return promote(self._one_for("promote"))

    def abort(self) -> Result:
        return abort(self._one_for("abort"))

    def _one_for(self, what: str) -> HostRun:
        """A canary runs on one host: its promote and abort too."""
        if self.several:
            raise BluegreenError(
                f"{what} is for a canary, which runs on one host (`host`); nothing was changed"
            )
        return self.members[0].run

    def _change(self, bring_up: Callable[[Prepare], Prepared]) -> Result:
        if self.several and self.config.canary is not None:
            raise BluegreenError(
                "strategy canary runs on one host (`host`); with `hosts`, switch the fleet in batches "
                "(`batch-size`, `batch-wait`); nothing was changed"
            )
        self._each("preflight", lambda m: preflight(m.run), self.members, "nothing was changed on any host")
        with ExitStack() as locks:
            for member in sorted(self.members, key=lambda m: m.name):
                self._lock(member, locks)
            for member in self.members:
                refuse_while_paused(member.run)
                take_back_stale_split(member.run)
            try:
                self._prepare(bring_up)
                self._switch()
                paused = self._paused_canary()
                if paused is not None:
                    return paused
                return self._finish()
            except BaseException as exc:  # a signal between two steps too: whatever was done is undone
                if not self.undone and not self.finishing:
                    undo_failures = self._undo(exc)
                    if not self.several and undo_failures:
                        raise next(iter(undo_failures.values())) from None
                raise

    def _lock(self, member: Member, locks: ExitStack) -> None:
        try:
            locks.enter_context(locked(member.run))
        except (Failure, Exception) as exc:
            member.status = "failed"
            if not self.several or isinstance(exc, Cancelled):
                raise
            raise self._error({member: exc}, "lock", "nothing was changed on any host") from None

    def _prepare(self, bring_up: Callable[[Prepare], Prepared]) -> None:
        leader = self.members[0]
        for member in self.members:
            member.run.release_turn = leader.run.release_turn
            member.run.leads_release = member is leader

        def prepare(member: Member) -> None:
            member.prepare = Prepare(member.run)
            try:
                member.prepared = bring_up(member.prepare)  # a failed prepare undoes itself
            finally:
                if member is leader:
                    member.run.release_turn.settle()

        with self._phase("prepare"):
            failures = at_once(self.members, prepare, self.config.parallel, self.stop)
            if failures:
                self._undo(None)
                raise self._error(failures, "prepare", self._unchanged())

    def _switch(self) -> None:
        for member in self.members:
            assert member.prepared is not None
            member.strategy = strategy_for(member.run, member.prepared)
        groups = batches(self.members, self.config.batch_size)
        for number, batch in enumerate(groups, start=1):
            name = f"switch {number}/{len(groups)}" if len(groups) > 1 else "switch"
            with self._phase(name):
                failures = at_once(batch, self._switch_one, self.config.parallel, self.stop)
                if not failures and self.config.batch_wait:
                    failures = self._watch(batch)
                if failures:
                    cause = next(iter(failures.values()))
                    undo_failures = self._undo(cause)
                    if not self.several and undo_failures:
                        raise next(iter(undo_failures.values()))
                    raise self._error(failures, "switch", self._unchanged(undo_failures))

    def _paused_canary(self) -> Result | None:
        """A canary at a `pause` step ends the run there, unfinished (one host)."""
        member = self.members[0]
        strategy = member.strategy
        if self.several or not isinstance(strategy, Canary) or strategy.paused is None:
            return None
        assert member.prepared is not None
        member.status = "paused"
        result = host_result(member.run, member.prepared, None, canary=strategy.paused.describe())
        return replace(result, hosts=(member.outcome(),))

    def _switch_one(self, member: Member) -> None:
        assert member.strategy is not None and member.prepared is not None
        member.strategy.read_routing()
        member.switching = True
        member.strategy.switch(member.prepared)

    def _watch(self, batch: list[Member]) -> dict[Member, BaseException]:
        """Verify the batch through its nginx (or verify-url) for batch-wait seconds."""
        names = ", ".join(m.name for m in batch)
        self.timer.reporter.info(f"watching {names} for {self.config.batch_wait:g} s")
        deadline = time.monotonic() + self.config.batch_wait
        while time.monotonic() < deadline:
            for member in batch:
                run = member.run
                try:
                    run.check.expect_upstream(run.ports[run.target or ""])
                except BluegreenError as exc:
                    member.reporter.failed_phase = "batch-wait"
                    return {member: exc}
            time.sleep(min(WATCH_EVERY, max(deadline - time.monotonic(), 0)))
        return {}

    def _undo(self, cause: BaseException | None) -> dict[Member, BaseException]:
        """Every host back as it was: switched hosts switched back (their old color runs), the new
        color taken away, once per run. Returns the hosts that could not be switched back."""
        self.undone = True
        self.stop.clear()  # the undo's own phases must run
        undone = [m for m in self.members if m.prepared is not None]

        def undo(member: Member) -> None:
            assert member.prepare is not None and member.prepared is not None
            if member.switching and member.strategy is not None:
                member.strategy.undo(member.prepared, cause or BluegreenError("the run failed"))
            member.prepare.undo()
            member.run.live = member.prepared.plan.live
            member.status = "switched back" if member.switching else "not switched"

        failures = at_once(undone, undo, self.config.parallel)
        for member in failures:
            member.status = "switch-back failed"
        return failures

    def _finish(self) -> Result:
        deploy_id = new_release_id()
        for member in self.members:
            member.run.deploy_id = deploy_id

        def finish_one(member: Member) -> None:
            assert member.prepared is not None
            member.state = finish(member.run, member.prepared)
            member.status = member.prepared.plan.outcome

        target = self.members[0].run.target or ""
        with self._phase("finish"):
            try:
                self.finishing = True
                failures = at_once(self.members, finish_one, self.config.parallel, None)
            except Cancelled as exc:  # the hosts' finish ran on: only the switch can be undone
                unfinished = [m for m in self.members if m.state is None]
                for member in unfinished:
                    member.status = "failed"
                left = ", ".join(m.name for m in unfinished)
                exc.args = (
                    f"{exc} during the finish: every host serves {target} (switched and verified)"
                    + (f"; {left} did not finish (the old color may still run there)" if left else ""),
                )
                exc.hosts_json = hosts_json(m.outcome() for m in self.members)
                raise
            if failures:
                for member in failures:
                    member.status = "failed"
                raise self._error(failures, "finish", f"every host serves {target} (switched and verified)")
        return self._result(deploy_id)

    # ---- status ---------------------------------------------------------------------------------

    def status(self) -> Result:
        results: dict[Member, Result] = {}

        def status_one(member: Member) -> None:
            results[member] = host_status(member.run)
            member.run.live = results[member].active_color
            member.status = "ok"

        self._each("status", status_one, self.members, "")
        first = results[self.members[0]]
        if not self.several:
            return replace(first, hosts=(self.members[0].outcome(),))
        colors = {results[m].active_color for m in self.members}
        if len(colors) > 1:
            serving = ", ".join(f"{m.name} {results[m].active_color or 'nothing'}" for m in self.members)
            self.timer.reporter.warning(f"the hosts disagree on the live color: {serving}")
        holders = [f"{m.name}: {results[m].lock_holder}" for m in self.members if results[m].lock_holder]
        return replace(
            first,
            active_color=first.active_color if len(colors) == 1 else "",
            duration_seconds=self.timer.elapsed(),
            phases=self.timer.phases,
            lock_holder="; ".join(holders),
            hosts=tuple(m.outcome() for m in self.members),
        )

    # ---- the parts ------------------------------------------------------------------------------

    def _each(self, phase: str, work: Callable[[Member], None], members: list[Member], changed: str) -> None:
        with self._phase(phase):
            failures = at_once(members, work, self.config.parallel, self.stop)
            if failures:
                raise self._error(failures, phase, changed)

    def _phase(self, name: str) -> AbstractContextManager[None]:
        """A phase of the whole fleet, in the log and in `phases` (a fleet of one: its host's phases)."""
        return self.timer.phase(name) if self.several else nullcontext()

    def _unchanged(self, undo_failures: dict[Member, BaseException] | None = None) -> str:
        failed = undo_failures or {}
        left = [m.name for m in self.members if m not in failed and m.prepare and m.prepare.left_running]
        if not failed and not left:
            return "every host serves its old color again (the new color was taken away on every host)"
        said = []
        if failed:
            names = ", ".join(m.name for m in failed)
            said.append(
                f"every other host serves its old color again; {names} could not be switched back: it "
                "may serve either color, and both are left running there"
            )
        if left:
            said.append(
                f"{'' if failed else 'every host serves its old color again; '}the new color could not be "
                f"taken away on {', '.join(left)}: it may still run there beside the old one"
            )
        return "; ".join(said) + " (check it, then deploy again)"

    def _error(self, failures: dict[Member, BaseException], phase: str, after: str) -> BaseException:
        """One error naming the host(s) and the phase; a fleet of one raises its host's own."""
        hosts = self.members
        for member in failures:
            if not member.status:
                member.status = "failed"
        for member in hosts:
            member.status = member.status or "not started"
        error: BaseException
        if not self.several:
            error = next(iter(failures.values()))
        else:
            real = {m: exc for m, exc in failures.items() if not isinstance(exc, Stopped)} or failures
            what = "; ".join(
                f"{m.name} ({m.reporter.failed_phase or phase}): {exc}" for m, exc in real.items()
            )
            cancelled = next((exc for exc in real.values() if isinstance(exc, Cancelled)), None)
            error = cancelled or BluegreenError(f"{phase} failed on {what}. {after[:1].upper()}{after[1:]}")
        if isinstance(error, Failure):
            error.hosts_json = hosts_json(m.outcome() for m in hosts)
        return error

    def _result(self, deploy_id: str) -> Result:
        first = self.members[0]
        assert first.prepared is not None and first.state is not None
        strategy = first.strategy
        canary = strategy.summary() if isinstance(strategy, Canary) else ""
        result = host_result(first.run, first.prepared, first.state, canary=canary)
        modes = {m.run.switch_mode for m in self.members}
        return replace(
            result,
            duration_seconds=self.timer.elapsed() if self.several else result.duration_seconds,
            phases=self.timer.phases if self.several else result.phases,
            switch_mode=modes.pop() if len(modes) == 1 else "reload",
            hosts=tuple(m.outcome() for m in self.members),
            deploy_id=deploy_id,
        )


def hosts_json(outcomes: Iterable[HostOutcome]) -> str:
    return json.dumps([asdict(outcome) for outcome in outcomes])
