import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from functools import partial

import pytest

from tests.lab import Lab
from tests.monitor.probes.support import pending_timers
from tests.polling import eventually
from vimwatch.contract import PENDING, REACHABLE, UNREACHABLE
from vimwatch.errors import InvalidConfig
from vimwatch.monitor import scheduler as scheduler_module
from vimwatch.monitor.probes.base import ProbeResult, Report
from vimwatch.monitor.scheduler import MonitorSpec, ReportDeferred, Scheduler
from vimwatch.monitor.target import Target, target_from_auth_url

LOOPBACK = target_from_auth_url("http://127.0.0.1:5000/v3")


class FakeProbe:
    """Answers `ok` after `delay` seconds, and records every probe it was asked for."""

    kind = "fake"

    def __init__(self) -> None:
        self.ok = True
        self.script: list[bool] = []
        self.delay = 0.0
        self.busy_for = 0.0
        self.after_report: Callable[[], None] | None = None
        self.starts: list[tuple[float, str, float]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def start(self, target: Target, address: str, timeout: float, report: Report) -> None:
        loop = asyncio.get_running_loop()
        self.starts.append((loop.time(), address, timeout))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        ok = self.script.pop(0) if self.script else self.ok
        if self.busy_for:
            time.sleep(self.busy_for)

        def finish() -> None:
            self.in_flight -= 1
            report(ProbeResult(ok, 0.001 if ok else None, "" if ok else "timeout"))
            if self.after_report is not None:
                self.after_report()

        loop.call_later(self.delay, finish)


class Conductor:
    """Stands in for report_statuses: records each change and each batch, can fail or hold
    them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.batches: list[list[tuple[str, str]]] = []
        self.fail_next = 0
        self.gate: asyncio.Event | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.on_call: Callable[[str, str], None] | None = None

    async def __call__(self, changes: list[tuple[str, str]]) -> list[str | Exception]:
        self.batches.append(changes)
        for vim_id, wanted in changes:
            self.calls.append((vim_id, wanted))
            if self.on_call is not None:
                self.on_call(vim_id, wanted)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("conductor unavailable")
            return [wanted for _, wanted in changes]
        finally:
            self.in_flight -= 1

    def wanted(self, vim_id: str) -> list[str]:
        return [wanted for called, wanted in self.calls if called == vim_id]


# Conditions of a scheduler on this loop: polled often, so a passing state is not missed.
wait_until = partial(eventually, timeout=2.0, interval=0.005)


@pytest.fixture
def fake() -> FakeProbe:
    return FakeProbe()


@pytest.fixture
def conductor() -> Conductor:
    return Conductor()


@pytest.fixture
async def scheduler(fake: FakeProbe, conductor: Conductor) -> AsyncIterator[Scheduler]:
    started = Scheduler(conductor, probes={"icmp": fake, "tcp": fake, "http": fake})
    await started.start()
    yield started
    await started.close()


def spec(vim_id: str = "vim-1", target: Target = LOOPBACK, **options: object) -> MonitorSpec:
    return MonitorSpec(vim_id=vim_id, target=target, **options)


# --- scheduling ---------------------------------------------------------------------------


async def test_first_probe_runs_at_once_and_a_success_makes_pending_reachable(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    scheduler.add(spec(interval=30))
    assert scheduler.status_of("vim-1") == PENDING
    await wait_until(lambda: conductor.calls, timeout=0.5)
    assert conductor.calls == [("vim-1", REACHABLE)]
    assert len(fake.starts) == 1
    await wait_until(lambda: scheduler.status_of("vim-1") == REACHABLE)
    assert scheduler.rtt_of("vim-1") == 0.001


async def test_ticks_stay_on_the_interval_grid_while_the_loop_is_busy(
    scheduler: Scheduler, fake: FakeProbe
) -> None:
    interval = 0.025
    fake.busy_for = 0.005  # every probe holds the loop: re-arming from "now" would drift
    scheduler.add(spec(interval=interval))
    await asyncio.sleep(1.0)
    starts = [at for at, _, _ in fake.starts]
    assert len(starts) >= 30
    errors = [at - starts[0] - k * interval for k, at in enumerate(starts)]
    assert max(abs(error) for error in errors) < interval / 2, errors


async def test_a_stalled_loop_skips_missed_ticks_instead_of_bursting(
    scheduler: Scheduler, fake: FakeProbe
) -> None:
    interval = 0.05
    scheduler.add(spec(interval=interval))
    await asyncio.sleep(0.12)
    time.sleep(8 * interval)
    stall_end = asyncio.get_running_loop().time()
    await asyncio.sleep(3 * interval)
    after = [at for at, _, _ in fake.starts if at >= stall_end]
    assert len([at for at in after if at < stall_end + interval]) <= 2, after
    assert 2 <= len(after) <= 5, after


async def test_probes_of_one_vim_never_overlap(scheduler: Scheduler, fake: FakeProbe) -> None:
    fake.delay = 0.12  # slower than the interval, as if the timeout were ignored
    scheduler.add(spec(interval=0.05))
    await asyncio.sleep(0.6)
    assert fake.max_in_flight == 1
    assert len(fake.starts) >= 4


class FakeBatchProbe(FakeProbe):
    """A FakeProbe that also takes IPv4 literals in batches, and records each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.singles: list[str] = []

    def route(self, address: str) -> int | None:
        return None if ":" in address else int.from_bytes(socket.inet_aton(address), "big")

    def start(self, target: Target, address: str, timeout: float, report: Report) -> None:
        self.singles.append(address)
        super().start(target, address, timeout, report)

    def start_many(self, launches: list) -> None:
        self.batches.append([launch.address for launch in launches])
        for launch in launches:
            assert launch.route == self.route(launch.address)
            super().start(LOOPBACK, launch.address, launch.timeout, launch)


async def test_a_slots_ipv4_probes_go_to_a_batching_probe_in_one_call(
    conductor: Conductor,
) -> None:
    batching = FakeBatchProbe()
    scheduler = Scheduler(conductor, probes={"icmp": batching})
    await scheduler.start()
    try:
        v4 = [f"127.0.0.{i}" for i in range(1, 21)]
        for address in [*v4, "::1", "::2"]:
            target = target_from_auth_url(
                f"http://[{address}]/" if ":" in address else f"http://{address}/"
            )
            scheduler.add(spec(address, target, interval=0.5))
        await wait_until(lambda: len(conductor.calls) == 22)
        assert sorted(sum(batching.batches, [])) == sorted(v4)
        # New VIMs share slots (up to the wheel's slack each), each slot one call.
        assert all(len(batch) > 1 for batch in batching.batches)
        assert sorted(batching.singles) == ["::1", "::2"]
    finally:
        await scheduler.close()


class AnsweringProbe(FakeBatchProbe):
    """Reports each batched probe as a reply of `rtt` seconds through `answered`, the way
    the ICMP probe reports replies, or as a timeout when `ok` is false."""

    rtt = 0.002

    def start_many(self, launches: list) -> None:
        self.batches.append([launch.address for launch in launches])
        loop = asyncio.get_running_loop()
        for launch in launches:
            if self.ok:
                loop.call_soon(launch.answered, self.rtt)
            else:
                loop.call_soon(launch, ProbeResult(False, None, "timeout"))


async def test_observers_see_each_result_and_answered_replies_set_the_rtt(
    conductor: Conductor,
) -> None:
    answering = AnsweringProbe()
    scheduler = Scheduler(conductor, probes={"icmp": answering})
    seen: list[tuple[str, ProbeResult]] = []
    scheduler.probe_observers.append(lambda vim_id, result: seen.append((vim_id, result)))
    await scheduler.start()
    try:
        scheduler.add(spec("vim-1", interval=0.05))
        await wait_until(lambda: len(seen) >= 2)
        assert seen[:2] == [("vim-1", ProbeResult(True, 0.002, ""))] * 2
        assert scheduler.rtt_of("vim-1") == 0.002
        answering.ok = False
        await wait_until(lambda: not seen[-1][1].ok)
        assert seen[-1] == ("vim-1", ProbeResult(False, None, "timeout"))
        assert scheduler.rtt_of("vim-1") == 0.002
    finally:
        await scheduler.close()


@pytest.mark.parametrize(("interval", "timeout", "used"), [(0.1, 5.0, 0.1), (1.0, 0.3, 0.3)])
async def test_timeout_is_clamped_to_the_interval(
    scheduler: Scheduler, fake: FakeProbe, interval: float, timeout: float, used: float
) -> None:
    scheduler.add(spec(interval=interval, timeout=timeout))
    await wait_until(lambda: fake.starts)
    assert fake.starts[0][2] == used


async def test_unreachable_is_reported_after_down_after_failed_probes_not_sooner(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    fake.ok = False
    probes_at_report: list[int] = []
    conductor.on_call = lambda vim_id, wanted: probes_at_report.append(len(fake.starts))
    scheduler.add(spec(interval=0.02, down_after=4))
    await wait_until(lambda: conductor.calls)
    assert conductor.calls == [("vim-1", UNREACHABLE)]
    assert probes_at_report == [4]
    assert scheduler.probes_lost >= 4


async def test_given_status_is_the_starting_point(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    scheduler.add(spec(interval=0.02), status=REACHABLE)
    await wait_until(lambda: len(fake.starts) >= 5)
    assert conductor.calls == []
    assert scheduler.status_of("vim-1") == REACHABLE


# --- reporting ----------------------------------------------------------------------------


async def test_a_failed_report_is_retried_after_later_probes(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    conductor.fail_next = 1
    probes_at_report: list[int] = []
    conductor.on_call = lambda vim_id, wanted: probes_at_report.append(len(fake.starts))
    scheduler.add(spec(interval=0.03))
    await wait_until(lambda: len(conductor.calls) == 2)
    assert conductor.calls == [("vim-1", REACHABLE)] * 2
    assert probes_at_report[1] > probes_at_report[0]
    assert scheduler.status_of("vim-1") == REACHABLE
    assert scheduler.reports_failed == 1


async def test_changes_that_fall_due_together_travel_in_one_report(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    fake.delay = 0.2  # every first probe answers in the same few turns of the loop
    for n in range(200):
        scheduler.add(spec(f"vim-{n}", interval=30))
    await wait_until(lambda: len(conductor.calls) == 200)
    assert sorted(conductor.calls) == sorted((f"vim-{n}", REACHABLE) for n in range(200))
    # New VIMs fill the wheel's slots about eight at a time; each slot's answers arrive
    # in one turn of the loop and go out as one report, not one per VIM.
    assert len(conductor.batches) <= 200 / 6
    assert all(scheduler.status_of(f"vim-{n}") == REACHABLE for n in range(200))


async def test_each_change_of_a_report_is_settled_on_its_own(fake: FakeProbe) -> None:
    async def report(changes: list[tuple[str, str]]) -> list[str | Exception]:
        return [ReportDeferred("held") if v == "held" else w for v, w in changes]

    scheduler = Scheduler(report, probes={"icmp": fake})
    await scheduler.start()
    try:
        fake.ok = False
        fake.delay = 0.05
        scheduler.add(spec("held", interval=30, down_after=1))
        scheduler.add(spec("applied", interval=30, down_after=1))
        await wait_until(lambda: scheduler.status_of("applied") == UNREACHABLE)
        assert scheduler.status_of("held") == PENDING
        assert scheduler.reports_deferred == 1 and scheduler.reports_failed == 0
    finally:
        await scheduler.close()


async def test_one_report_at_a_time_and_a_change_seen_meanwhile_follows_it(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    conductor.gate = asyncio.Event()
    scheduler.add(spec(interval=0.02, down_after=1))
    await wait_until(lambda: conductor.calls)
    fake.ok = False
    await wait_until(lambda: len(fake.starts) >= 6)
    assert conductor.calls == [("vim-1", REACHABLE)]
    # No further result arrives from here on: the change must follow the settle itself.
    fake.delay = 30
    probes = len(fake.starts)
    await wait_until(lambda: len(fake.starts) > probes)
    conductor.gate.set()
    await wait_until(lambda: len(conductor.calls) == 2)
    assert conductor.calls[1] == ("vim-1", UNREACHABLE)
    assert conductor.max_in_flight == 1


async def test_remove_stops_probes_and_ignores_the_report_in_flight(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    conductor.gate = asyncio.Event()
    scheduler.add(spec(interval=0.02))
    await wait_until(lambda: conductor.calls)
    assert scheduler.remove("vim-1") is True
    probes = len(fake.starts)
    conductor.gate.set()
    await asyncio.sleep(0.1)
    assert len(fake.starts) == probes
    assert conductor.calls == [("vim-1", REACHABLE)]
    assert "vim-1" not in scheduler and len(scheduler) == 0
    assert scheduler.status_of("vim-1") is None
    assert scheduler.remove("vim-1") is False


async def test_no_report_is_made_after_remove_even_if_one_was_just_due(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    # Removed in the very callback whose result calls for a report, before the report
    # task has had a chance to run.
    fake.after_report = lambda: scheduler.remove("vim-1")
    scheduler.add(spec(interval=0.02))
    await wait_until(lambda: fake.starts)
    await asyncio.sleep(0.1)
    assert conductor.calls == []


async def test_adding_an_existing_vim_replaces_its_monitor(
    scheduler: Scheduler, fake: FakeProbe
) -> None:
    scheduler.add(spec(interval=30))
    scheduler.add(spec(target=target_from_auth_url("http://127.0.0.2/"), interval=30))
    await wait_until(lambda: fake.starts)
    await asyncio.sleep(0.05)
    assert len(scheduler) == 1 and "vim-1" in scheduler
    assert [address for _, address, _ in fake.starts] == ["127.0.0.2"]


# --- names --------------------------------------------------------------------------------


NAMED = target_from_auth_url("https://keystone.example.com:5000/v3")


async def test_a_name_is_resolved_once_and_again_only_after_a_failed_probe(
    scheduler: Scheduler, fake: FakeProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["127.0.0.3", "127.0.0.4"])
    lookups: list[str] = []

    async def resolve(host: str) -> str:
        lookups.append(host)
        return next(answers)

    monkeypatch.setattr(scheduler_module, "resolve", resolve)
    fake.script = [True, True, False, True, True]
    scheduler.add(spec(target=NAMED, interval=0.02))
    await wait_until(lambda: len(fake.starts) >= 5)
    assert lookups == ["keystone.example.com"] * 2
    addresses = [address for _, address, _ in fake.starts[:5]]
    assert addresses == ["127.0.0.3"] * 3 + ["127.0.0.4"] * 2


async def test_an_unresolvable_name_counts_as_a_failed_probe(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def resolve(host: str) -> str:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(scheduler_module, "resolve", resolve)
    scheduler.add(spec(target=NAMED, interval=0.02, down_after=2))
    await wait_until(lambda: conductor.calls)
    assert conductor.calls == [("vim-1", UNREACHABLE)]
    assert fake.starts == []


async def test_a_hanging_resolver_times_out_without_holding_up_other_vims(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def resolve(host: str) -> str:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")

    monkeypatch.setattr(scheduler_module, "resolve", resolve)
    scheduler.add(spec("named", target=NAMED, interval=0.05, timeout=0.05, down_after=2))
    scheduler.add(spec("literal", interval=0.05))
    await wait_until(lambda: conductor.wanted("named"), timeout=1.0)
    assert conductor.wanted("named") == [UNREACHABLE]
    assert conductor.wanted("literal") == [REACHABLE]
    assert len(fake.starts) >= 2


# --- lifecycle ----------------------------------------------------------------------------


async def test_close_leaves_no_task_and_no_timer(
    fake: FakeProbe, conductor: Conductor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def resolve(host: str) -> str:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")

    monkeypatch.setattr(scheduler_module, "resolve", resolve)
    conductor.gate = asyncio.Event()
    scheduler = Scheduler(conductor, probes={"icmp": fake})
    await scheduler.start()
    scheduler.add(spec("reporting", interval=0.02))
    scheduler.add(spec("resolving", target=NAMED, interval=10, timeout=10))
    await wait_until(lambda: conductor.calls)
    await scheduler.close()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert pending_timers(asyncio.get_running_loop()) == []
    assert len(scheduler) == 0


async def test_add_before_start_is_refused(conductor: Conductor) -> None:
    with pytest.raises(RuntimeError, match="start"):
        Scheduler(conductor).add(spec())


@pytest.mark.parametrize(
    "options",
    [{"probe": "smoke-signal"}, {"interval": 0}, {"timeout": -1}, {"down_after": 0}],
)
async def test_unusable_specs_are_invalid_config(scheduler: Scheduler, options: dict) -> None:
    with pytest.raises(InvalidConfig):
        scheduler.add(spec(**options))
    assert len(scheduler) == 0


# --- real ICMP against lab hosts ----------------------------------------------------------


@pytest.fixture
async def real_scheduler(conductor: Conductor) -> AsyncIterator[Scheduler]:
    started = Scheduler(conductor)
    await started.start()
    yield started
    await started.close()


# Upper bound for a lab monitor's report: generous, as it only catches one that never comes.
LAB_WAIT = 15.0


def lab_spec(vim_id: str, address: str, **options: object) -> MonitorSpec:
    options = {"interval": 0.2, "timeout": 0.2, **options}
    return spec(vim_id, target_from_auth_url(f"https://{address}:5000/v3"), **options)


@pytest.mark.lab
async def test_lab_host_that_answers_goes_from_pending_to_reachable(
    lab: Lab, real_scheduler: Scheduler, conductor: Conductor
) -> None:
    host = lab.add_host()
    real_scheduler.add(lab_spec("vim-1", host.address))
    await wait_until(lambda: conductor.calls, timeout=1.0)
    assert conductor.calls == [("vim-1", REACHABLE)]
    assert real_scheduler.rtt_of("vim-1") < 0.2


@pytest.mark.lab
async def test_lab_host_down_is_unreachable_after_down_after_probes_and_up_is_reachable(
    lab: Lab, real_scheduler: Scheduler, conductor: Conductor
) -> None:
    host = lab.add_host()
    real_scheduler.add(lab_spec("vim-1", host.address, down_after=3))
    # The waits below are bounded only to catch a monitor that never reports: on a loaded
    # machine a 0.2 s probe cycle can take far longer. What this test pins is the count of
    # probes lost before the report and that the report is not early (loop's clock);
    # detection time is measured by `python -m bench detection`.
    await wait_until(lambda: real_scheduler.status_of("vim-1") == REACHABLE, timeout=LAB_WAIT)

    lost_at_report: list[int] = []
    conductor.on_call = lambda vim_id, wanted: lost_at_report.append(real_scheduler.probes_lost)
    lost_before = real_scheduler.probes_lost
    loop = asyncio.get_running_loop()
    went_down = loop.time()
    host.down()
    await wait_until(lambda: len(conductor.calls) == 2, timeout=LAB_WAIT)
    assert conductor.calls[1] == ("vim-1", UNREACHABLE)
    assert lost_at_report[0] - lost_before == 3
    assert loop.time() - went_down >= 2 * 0.2 - 0.02

    host.up()
    await wait_until(lambda: len(conductor.calls) == 3, timeout=LAB_WAIT)
    assert conductor.calls[2] == ("vim-1", REACHABLE)
    assert real_scheduler.status_of("vim-1") == REACHABLE


@pytest.mark.lab
async def test_thirty_percent_packet_loss_rarely_trips_down_after_3_but_often_down_after_1(
    lab: Lab, real_scheduler: Scheduler, conductor: Conductor
) -> None:
    """Five monitors of each threshold watch one host that drops 30 % of the echoes sent
    to it, ~100 probes each. A probe sends a second echo at half its timeout, so it fails
    only when both are lost: 9 % of probes. A failure trips down_after=1 every time a run
    of failures starts (expected ~41 in all); down_after=3 needs three failed probes in a
    row (expected ~0.4)."""
    host = lab.add_host()
    strict = [f"strict-{i}" for i in range(5)]
    tolerant = [f"tolerant-{i}" for i in range(5)]
    for vim_id in strict:
        real_scheduler.add(lab_spec(vim_id, host.address, down_after=1))
    for vim_id in tolerant:
        real_scheduler.add(lab_spec(vim_id, host.address, down_after=3))
    await wait_until(lambda: len(conductor.calls) == 10, timeout=1.0)

    sent, lost = real_scheduler.probes_sent, real_scheduler.probes_lost
    host.lossy(30)
    await asyncio.sleep(20.0)
    host.clear()
    loss = (real_scheduler.probes_lost - lost) / (real_scheduler.probes_sent - sent)

    def outages(vim_ids: list[str]) -> int:
        return sum(conductor.wanted(vim_id).count(UNREACHABLE) for vim_id in vim_ids)

    assert 0.04 < loss < 0.15
    assert real_scheduler.probes_sent - sent >= 10 * 95
    assert outages(strict) >= 20
    assert outages(tolerant) * 3 < outages(strict)


@pytest.mark.lab
async def test_removed_vim_is_not_reported_when_its_host_goes_down(
    lab: Lab, real_scheduler: Scheduler, conductor: Conductor
) -> None:
    host = lab.add_host()
    real_scheduler.add(lab_spec("kept", host.address, down_after=2))
    real_scheduler.add(lab_spec("removed", host.address, down_after=2))
    await wait_until(lambda: len(conductor.calls) == 2, timeout=1.0)
    host.down()
    assert real_scheduler.remove("removed")
    await wait_until(lambda: UNREACHABLE in conductor.wanted("kept"), timeout=2.0)
    await asyncio.sleep(0.4)
    assert conductor.wanted("removed") == [REACHABLE]


@pytest.mark.lab
async def test_close_with_real_probes_in_flight_leaves_no_task_and_no_timer(
    lab: Lab, conductor: Conductor
) -> None:
    host = lab.add_host()
    host.mute()
    host.lossy(100)
    scheduler = Scheduler(conductor)
    await scheduler.start()
    for kind in ("icmp", "tcp", "http"):
        scheduler.add(lab_spec(kind, host.address, probe=kind, interval=5, timeout=5))
    await asyncio.sleep(0.1)
    await scheduler.close()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert pending_timers(asyncio.get_running_loop()) == []


# --- one status, several checks (Scheduler.hold) ------------------------------------------


async def test_no_reachable_before_the_other_check_has_a_verdict(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    scheduler.add(spec(interval=0.05))
    scheduler.hold("vim-1", "")
    await wait_until(lambda: len(fake.starts) >= 4)
    assert conductor.calls == []
    assert scheduler.probe_state("vim-1") == (True, "")
    scheduler.hold("vim-1", None)
    await wait_until(lambda: scheduler.status_of("vim-1") == REACHABLE)
    assert conductor.wanted("vim-1") == [REACHABLE]


async def test_a_failing_check_makes_a_pingable_vim_unreachable_until_it_passes(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    scheduler.add(spec(interval=0.05))
    await wait_until(lambda: scheduler.status_of("vim-1") == REACHABLE)
    scheduler.hold("vim-1", "authentication failed")
    await wait_until(lambda: scheduler.status_of("vim-1") == UNREACHABLE)
    scheduler.hold("vim-1", None)
    await wait_until(lambda: scheduler.status_of("vim-1") == REACHABLE)
    assert conductor.wanted("vim-1") == [REACHABLE, UNREACHABLE, REACHABLE]


async def test_a_failed_report_of_a_failing_check_is_retried_by_later_probes(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    scheduler.add(spec(interval=0.05))
    await wait_until(lambda: scheduler.status_of("vim-1") == REACHABLE)
    conductor.fail_next = 1
    scheduler.hold("vim-1", "cannot reach Keystone")
    await wait_until(lambda: scheduler.status_of("vim-1") == UNREACHABLE)
    assert conductor.wanted("vim-1") == [REACHABLE, UNREACHABLE, UNREACHABLE]


async def test_a_failing_probe_still_turns_the_vim_unreachable_while_checks_pend(
    scheduler: Scheduler, fake: FakeProbe, conductor: Conductor
) -> None:
    fake.ok = False
    scheduler.add(spec(interval=0.05, down_after=2))
    scheduler.hold("vim-1", "")
    await wait_until(lambda: scheduler.status_of("vim-1") == UNREACHABLE)
    assert scheduler.probe_state("vim-1") == (False, "timeout")
