"""Flap detection: weighted percent state change over 21 intervals, 30 % on and 25 % off."""

from __future__ import annotations

from vimwatch.monitor.flapping import FlapDetector


def test_a_vim_changing_every_interval_starts_flapping() -> None:
    detector = FlapDetector()
    started = [detector.record("v", float(t), 1.0) for t in range(10)]
    assert any(started)
    assert started.count(True) == 1
    assert "v" in detector.flapping


def test_one_outage_and_recovery_is_not_flapping() -> None:
    detector = FlapDetector()
    assert not detector.record("v", 0.0, 1.0)
    assert not detector.record("v", 30.0, 1.0)
    assert detector.flapping == set()


def test_flapping_stops_once_the_vim_is_quiet_and_quiet_vims_are_forgotten() -> None:
    detector = FlapDetector()
    for t in range(10):
        detector.record("v", float(t), 1.0)
    assert detector.settled(10.0) == []
    assert detector.settled(40.0) == ["v"]
    assert detector.flapping == set()
    assert detector.percent("v", 40.0) == 0.0
    assert len(detector) == 0
