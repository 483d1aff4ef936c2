"""The workflow text: Mistral reads back exactly the task input it was written from."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vimwatch.contract import TASK_NAME, workflow_name
from vimwatch.workflows.definition import ACTION, workflow_definition

VIM_ID = "4f3b1c9e-0000-4000-8000-000000000001"
TASK_INPUT = {
    "vim_id": VIM_ID,
    "auth_url": "http://127.0.0.1/identity",
    "targetip": "127.0.0.1",
    "cert_verify": True,
    "probe": "icmp",
    "interval": 1.0,
    "timeout": 1.0,
    "down_after": 3,
    "up_after": 1,
}


def _task(definition: str) -> dict[str, Any]:
    document = yaml.safe_load(definition)
    assert document["version"] == "2.0"
    workflow = document[workflow_name(VIM_ID)]
    assert workflow["type"] == "direct"
    return workflow["tasks"][TASK_NAME]


def test_the_one_task_runs_the_ping_action_with_the_vims_input() -> None:
    task = _task(workflow_definition(VIM_ID, TASK_INPUT))
    assert task == {"action": ACTION, "input": TASK_INPUT}


def test_policies_are_keys_of_the_task_beside_its_input() -> None:
    policies = {"retry": {"count": 1000, "delay": 3}, "safe-rerun": True}
    task = _task(workflow_definition(VIM_ID, TASK_INPUT, policies=policies))
    assert task == {"action": ACTION, "input": TASK_INPUT, **policies}


def test_the_text_is_block_yaml_an_operator_can_read() -> None:
    text = workflow_definition(VIM_ID, TASK_INPUT)
    assert f"\n{workflow_name(VIM_ID)}:\n" in text
    assert f"\n    {TASK_NAME}:\n      action: " in text
    assert '\n        targetip: "127.0.0.1"\n' in text


_scalars = st.one_of(
    st.text(),
    st.booleans(),
    st.none(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(url=st.text(), extra=st.dictionaries(st.text(min_size=1), _values, max_size=4))
def test_any_value_reads_back_unchanged(url: str, extra: dict[str, Any]) -> None:
    """A URL or setting with quotes, newlines, '#', ': ', control characters or emoji
    cannot change the document's shape or its own value."""
    task_input = {**TASK_INPUT, "auth_url": url, "extra": extra}
    assert _task(workflow_definition(VIM_ID, task_input))["input"] == task_input


@pytest.mark.parametrize("number", [1e16, 1e-05, -2.5e300, 0.1, 3.0, 1e300 * 10**-300])
def test_a_float_reads_back_as_the_same_float(number: float) -> None:
    task_input = {**TASK_INPUT, "interval": number, "nested": [number, {"at": number}]}
    assert _task(workflow_definition(VIM_ID, task_input))["input"] == task_input


def test_keys_longer_than_yaml_reads_implicitly_are_written_explicitly() -> None:
    long = "ş" * 600  # 6,000 characters once escaped
    task_input = {**TASK_INPUT, long: {long: 1}, "flow": [{long: "x"}]}
    assert _task(workflow_definition(VIM_ID, task_input))["input"] == task_input
