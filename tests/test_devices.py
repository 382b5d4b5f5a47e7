"""Execution provider selection: CUDA only when it really initializes, an error when asked for and absent."""

from __future__ import annotations

import pytest

from deeptgi_rt.devices import CPU_PROVIDER, CUDA_PROVIDER, choose_providers, pcc_backend, session_options
from deeptgi_rt.errors import InputError
from deeptgi_rt.progress import Reporter

BOTH = [CUDA_PROVIDER, CPU_PROVIDER]


class Lines(Reporter):
    def __init__(self):
        self.lines = []

    def info(self, message):
        self.lines.append(message)


class FakeSession:
    def __init__(self, providers):
        self._providers = providers

    def get_providers(self):
        return self._providers


def factory(got, calls=None):
    def make(providers):
        if calls is not None:
            calls.append(providers)
        return FakeSession(got)

    return make


def test_auto_uses_cuda_when_it_initializes():
    calls, lines = [], Lines()
    assert choose_providers("auto", BOTH, factory(BOTH, calls), lines) == BOTH
    assert calls == [BOTH] and lines.lines == []


def test_auto_falls_back_to_cpu_with_one_line_when_cuda_is_listed_but_fails():
    lines = Lines()
    assert choose_providers("auto", BOTH, factory([CPU_PROVIDER]), lines) == [CPU_PROVIDER]
    assert len(lines.lines) == 1 and "did not initialize" in lines.lines[0]


def test_auto_without_a_cuda_build_is_cpu_without_probing():
    calls, lines = [], Lines()
    assert choose_providers("auto", [CPU_PROVIDER], factory(BOTH, calls), lines) == [CPU_PROVIDER]
    assert calls == [] and len(lines.lines) == 1


@pytest.mark.parametrize("available, got", [(BOTH, [CPU_PROVIDER]), ([CPU_PROVIDER], [CPU_PROVIDER])])
def test_cuda_request_that_cannot_be_met_is_an_input_error(available, got):
    with pytest.raises(InputError, match="^device='cuda' requested but") as caught:
        choose_providers("cuda", available, factory(got))
    assert caught.value.parameter == "device"  # the CLI names its flag instead (tests/test_request.py)


def test_cpu_request_never_probes_cuda():
    calls = []
    assert choose_providers("cpu", BOTH, factory(BOTH, calls)) == [CPU_PROVIDER]
    assert calls == []


def test_unknown_device_is_an_input_error():
    with pytest.raises(InputError, match="unknown device"):
        choose_providers("tpu", BOTH, factory(BOTH))


def test_pcc_backend_follows_the_device():
    assert pcc_backend("cpu") == "cpu"
    assert pcc_backend("auto") in ("cpu", "cuda")


def test_session_threads_default_to_all_cores_the_environment_allows(monkeypatch):
    from deeptgi_rt.threads import ENV_LIMITS, available_cores

    for name in ENV_LIMITS:
        monkeypatch.delenv(name, raising=False)
    assert session_options().intra_op_num_threads == available_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert session_options().intra_op_num_threads == 1
    assert session_options(1).intra_op_num_threads == 1
