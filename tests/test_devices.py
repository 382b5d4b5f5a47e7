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


def no_device():
    return False


def test_auto_without_a_cuda_device_is_cpu_silently_and_without_probing():
    # The GPU build of onnxruntime lists CUDA on every machine; without a device that is no news.
    for available in (BOTH, [CPU_PROVIDER]):
        calls, lines = [], Lines()
        assert choose_providers("auto", available, factory(BOTH, calls), lines, no_device) == [CPU_PROVIDER]
        assert calls == [] and lines.lines == []


def test_a_present_device_that_fails_to_initialize_still_gets_its_one_line():
    lines = Lines()
    assert choose_providers("auto", BOTH, factory([CPU_PROVIDER]), lines, lambda: True) == [CPU_PROVIDER]
    assert len(lines.lines) == 1 and "did not initialize" in lines.lines[0]


def test_cuda_request_without_a_device_says_there_is_none():
    with pytest.raises(InputError, match="^device='cuda' requested but this machine has no CUDA device"):
        choose_providers("cuda", BOTH, factory(BOTH), device_present=no_device)


class FakeDriver:
    """The two CUDA driver API calls :func:`cuda_device_present` makes."""

    def __init__(self, init_status=0, devices=0):
        self.init_status, self.devices = init_status, devices

    def cuInit(self, flags):
        return self.init_status

    def cuDeviceGetCount(self, count):
        count._obj.value = self.devices
        return 0


def loader(driver):
    def load(name):
        if driver is None:
            raise OSError(f"{name}: cannot open shared object file")
        return driver

    return load


def pci(tmp_path, *devices):
    for i, (vendor, kind) in enumerate(devices):
        folder = tmp_path / f"0000:00:{i:02x}.0"
        folder.mkdir()
        (folder / "vendor").write_text(vendor + "\n")
        (folder / "class").write_text(kind + "\n")
    return tmp_path


@pytest.mark.parametrize(
    "driver, bus, present",
    [
        (None, [("0x8086", "0x060000"), ("0x1af4", "0x020000")], False),  # no driver, no NVIDIA GPU: a CPU machine
        (None, [("0x10de", "0x030200")], True),  # an NVIDIA GPU without its driver: present, it will not initialize
        (None, [("0x10de", "0x040300")], False),  # an NVIDIA audio function is no GPU
        (FakeDriver(init_status=100), [], False),  # the driver says CUDA_ERROR_NO_DEVICE
        (FakeDriver(devices=0), [], False),
        (FakeDriver(devices=2), [], True),
        (FakeDriver(init_status=999), [], True),  # a driver failing otherwise: a device to report on
    ],
)
def test_cuda_device_present_asks_the_driver_then_the_pci_bus(tmp_path, driver, bus, present):
    from deeptgi_rt.devices import cuda_device_present

    assert cuda_device_present(loader(driver), pci(tmp_path, *bus)) is present


def test_cuda_device_present_on_this_machine_is_a_bool():
    from deeptgi_rt.devices import cuda_device_present

    assert isinstance(cuda_device_present(), bool)
