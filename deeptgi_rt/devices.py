"""Where scoring runs: the onnxruntime execution providers and the PCC backend.

CUDA is used only when it actually initializes: onnxruntime lists ``CUDAExecutionProvider``
as *available* whenever the GPU build is installed, even on a machine without a GPU or
without the CUDA libraries, and then silently falls back to the CPU when a session is
created. So the choice is made by creating a session and reading back the providers it got.
That probe runs only on a machine with a CUDA device (:func:`cuda_device_present`): without
one, ``"auto"`` is the CPU with nothing to report, and a device that is there but does not
initialize gets one line saying so.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .progress import Reporter

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")
# The CUDA driver API's answer to cuInit on a machine without a CUDA device.
CUDA_ERROR_NO_DEVICE = 100
# PCI vendor id of NVIDIA and the class prefix of display controllers (VGA 0x0300, 3D 0x0302).
NVIDIA_PCI_VENDOR = "0x10de"
DISPLAY_PCI_CLASS = "0x03"
PCI_DEVICES = Path("/sys/bus/pci/devices")


def cuda_device_present(load_library: Callable[[str], Any] = ctypes.CDLL, pci_devices: Path = PCI_DEVICES) -> bool:
    """Whether this machine has a CUDA device, asked without onnxruntime (whose GPU build lists
    CUDA whether or not there is one).

    True when the NVIDIA driver counts a device, when the driver is there but fails otherwise
    than with "no device" (a device that does not initialize: the session probe then says why),
    or, without a driver library, when the PCI bus shows an NVIDIA display controller (Linux
    ``/sys/bus/pci``). False on a machine with neither, the CPU-only case.

    Args:
        load_library: ``name -> library`` (``ctypes.CDLL``); raises ``OSError`` when absent.
        pci_devices: the sysfs PCI device directory.
    """
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            driver = load_library(name)
        except OSError:
            continue
        status = driver.cuInit(0)
        if status == CUDA_ERROR_NO_DEVICE:
            return False
        count = ctypes.c_int(0)
        if status != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return True
        return count.value > 0
    return _nvidia_display_on_pci(pci_devices)


def _nvidia_display_on_pci(pci_devices: Path) -> bool:
    try:
        for device in pci_devices.iterdir():
            try:
                vendor = (device / "vendor").read_text().strip().lower()
                kind = (device / "class").read_text().strip().lower()
            except OSError:
                continue
            if vendor == NVIDIA_PCI_VENDOR and kind.startswith(DISPLAY_PCI_CLASS):
                return True
    except OSError:
        return False
    return False


def choose_providers(
    device: str,
    available: Sequence[str],
    session_factory: Callable[[list[str]], Any],
    reporter: Reporter | None = None,
    device_present: Callable[[], bool] | None = None,
) -> list[str]:
    """The execution providers to score with on ``device``.

    Args:
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        available: what ``onnxruntime.get_available_providers()`` reports.
        session_factory: ``providers -> session``; called once with ``[CUDA, CPU]`` to see
            whether CUDA initializes (the session's ``get_providers()`` is checked).
        reporter: receives one info line when ``"auto"`` settles on the CPU although a CUDA
            device is present (it did not initialize, or this onnxruntime build has no CUDA).
        device_present: ``() -> bool``, whether the machine has a CUDA device
            (:func:`cuda_device_present`); without one ``"auto"`` is the CPU, silently and
            without probing. ``None``: taken as present.

    Returns:
        ``[CUDAExecutionProvider, CPUExecutionProvider]`` or ``[CPUExecutionProvider]``.

    Raises:
        InputError: unknown device, or ``"cuda"`` when CUDA does not initialize.
    """
    reporter = reporter or Reporter()
    if device not in DEVICES:
        raise InputError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if device == "cpu":
        return [CPU_PROVIDER]
    present = device_present is None or device_present()
    if device == "auto" and not present:
        # No GPU on the machine: the CPU is where this run was always going to be, nothing to report.
        return [CPU_PROVIDER]
    if not present:
        reason = "this machine has no CUDA device (no NVIDIA GPU found by the driver or on the PCI bus)"
    elif CUDA_PROVIDER not in available:
        reason = "this onnxruntime build has no CUDAExecutionProvider (install onnxruntime-gpu)"
    else:
        session = session_factory([CUDA_PROVIDER, CPU_PROVIDER])
        if CUDA_PROVIDER in session.get_providers():
            return [CUDA_PROVIDER, CPU_PROVIDER]
        reason = "the CUDA execution provider did not initialize (no usable GPU or CUDA/cuDNN libraries)"
    if device == "cuda":
        raise InputError(f"device='cuda' requested but {reason}", parameter="device")
    reporter.info(f"scoring on CPU: {reason}")
    return [CPU_PROVIDER]


def session_options(threads: int | None = None):
    """onnxruntime ``SessionOptions`` for scoring: ``threads`` intra-op threads (default
    :func:`deeptgi_rt.threads.default_threads`: the usable cores, capped by OMP_NUM_THREADS)."""
    import onnxruntime as ort

    from .threads import default_threads

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or default_threads())
    # One operator at a time keeps the cores on the big matrix products rather than contending.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # A failed CUDA probe is expected on CPU machines; its native error log would only alarm.
    options.log_severity_level = 3
    return options


def create_session(model_bytes: bytes, providers: list[str], threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` over serialized ONNX ``model_bytes`` on ``providers``."""
    import onnxruntime as ort

    return ort.InferenceSession(model_bytes, session_options(threads), providers=providers)


def select_providers(
    model_bytes: bytes, device: str, threads: int | None = None, reporter: Reporter | None = None
) -> list[str]:
    """:func:`choose_providers` with the real onnxruntime, probing with ``model_bytes``."""
    import onnxruntime as ort

    def probe(providers: list[str]):
        # The provider bridge logs an error through the default logger when the CUDA
        # libraries are missing; the outcome is reported by us in one line instead.
        ort.set_default_logger_severity(4)
        try:
            return create_session(model_bytes, providers, threads)
        finally:
            ort.set_default_logger_severity(2)

    return choose_providers(device, ort.get_available_providers(), probe, reporter, cuda_device_present)


def pcc_backend(device: str) -> str:
    """The PCC backend (``"cpu"`` or ``"cuda"``) for ``device``; raises :class:`InputError` for a
    ``"cuda"`` request without a working GPU."""
    if device not in DEVICES:
        raise InputError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    from .pcc import resolve_backend

    # A runtime whose numba CUDA support cannot be imported counts as one without a GPU there.
    return resolve_backend(device)
