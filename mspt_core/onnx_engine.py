"""Reading on the CPU with ONNX Runtime: the recognizer's CTC path (front end, encoder, CTC
head) exported once per model to an ONNX graph with dynamic batch and width, then run by an
ONNX Runtime session, each line on its own, a chosen number of lines at once. Optionally int8:
the weights of the matrix products quantized (``onnxruntime.quantization.quantize_dynamic``).
The line finder's network (``layout.linefinder``) likewise, with dynamic height and width
(``OnnxLineNet``).

Exports are cached by a hash of the model's weights and configuration, of the code that builds
the network and of the library versions, in ``onnx/`` of the user cache folder (or of
``$MSPT_CACHE_DIR``): a model is exported the first time it reads on a CPU, in seconds, and
later runs start at once. Each graph is one self-contained file (weights inside), written
atomically. The cache holds only graphs this code wrote; a model file from a user is never read
as ONNX. The GPU and the decoder head stay on PyTorch. Anything that goes wrong here (no
onnxruntime, a failed export, a cache folder that cannot be written, a damaged entry) raises
``UnavailableError``, and the reader falls back to PyTorch."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mspt_core.atomic import atomic_path
from mspt_core.data.batching import padded_width
from mspt_core.engines import ENGINES  # noqa: F401  (re-exported: the engines this module serves)
from mspt_core.model import Recognizer
from mspt_core.model.config import DOWNSAMPLE

GRAPH_VERSION = 2  # bump when _CTCGraph changes; the network's own code is hashed into the key
MODEL_CODE = Path(__file__).resolve().parent / "model"


class UnavailableError(RuntimeError):
    """ONNX Runtime (or the exporter) is missing or failed; the caller falls back to PyTorch."""


def cache_dir() -> Path:
    if "MSPT_CACHE_DIR" in os.environ:
        return Path(os.environ["MSPT_CACHE_DIR"]) / "onnx"
    import platformdirs

    return Path(platformdirs.user_cache_dir("mspt", appauthor=False)) / "onnx"


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class _CTCGraph(nn.Module):
    """What is exported: (images, widths) -> (CTC log-probabilities, real frames per line)."""

    def __init__(self, model: Recognizer):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs, pad_mask = self.model.ctc_log_probs(images, widths)
        return log_probs, (~pad_mask).sum(1)


def _key(header: dict, sources: list[Path], network: nn.Module) -> str:
    """Hash of everything a graph depends on: ``header`` (its configuration), the code that
    builds the network, its weights and buffers, and the versions of mspt, torch and onnxruntime."""
    import onnxruntime

    from mspt_core import __version__

    versions = {"mspt": __version__, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
    digest = hashlib.sha256(json.dumps(header | versions, sort_keys=True).encode())
    for source in sources:
        digest.update(source.read_bytes())
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def model_key(model: Recognizer) -> str:
    """The cache key of a recognizer's CTC graph (``_key``)."""
    header = {"config": model.config.to_json(), "classes": model.num_classes, "graph": GRAPH_VERSION}
    return _key(header, sorted(MODEL_CODE.glob("*.py")), model)


@contextmanager
def _cache_file(target: Path, failure: str) -> Iterator[Path]:
    """A temporary name to write ``target`` under, renamed into the cache when the block ends
    without an error (``atomic.atomic_path``). Whatever goes wrong is an UnavailableError: the
    cache cannot be written, or ``failure``."""
    started = False
    try:
        with atomic_path(target) as tmp:
            started = True
            yield tmp
    except Exception as error:  # the exporter and the quantizer raise many kinds; all mean "use PyTorch"
        if not started:
            raise UnavailableError(f"cannot write the ONNX cache in {target.parent}: {error}") from error
        raise UnavailableError(f"{failure}: {error}") from error


class _Quiet(logging.Filter):
    """Drops what the exporter and the quantizer say while they work (progress, advice)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


# One export or quantization at a time: each turns process-wide logger levels and warning
# filters down and back, and two at once (a page's line finder, a reader's model) would leave
# them turned down.
_QUIET = threading.Lock()


def _quietly(action) -> None:
    with _QUIET:
        _quiet_now(action)


def _quiet_now(action) -> None:
    # The exporter's own loggers (and their children) are turned down; the quantizer talks on
    # the root logger, which gets a filter for records logged on it directly, not a level, so
    # other threads' records still get through.
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in loggers]
    root, quiet = logging.getLogger(), _Quiet()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    root.addFilter(quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            action()
    finally:
        root.removeFilter(quiet)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _export(model: Recognizer, target: Path) -> None:
    """Write the CTC graph of ``model``, weights inside, to ``target`` atomically."""
    model = model.cpu().float().eval()
    images = torch.zeros(2, 1, model.config.height, 4 * DOWNSAMPLE)
    widths = torch.tensor([4 * DOWNSAMPLE, 2 * DOWNSAMPLE])
    batch = torch.export.Dim("batch", min=1, max=4096)
    columns = torch.export.Dim("columns", min=1, max=4096)
    with _cache_file(target, "could not export the model to ONNX") as tmp:
        # external_data=False: one file, so the rename moves graph and weights together.
        _quietly(
            lambda: torch.onnx.export(
                _CTCGraph(model),
                (images, widths),
                tmp,
                input_names=["images", "widths"],
                output_names=["log_probs", "frames"],
                dynamo=True,
                verbose=False,
                external_data=False,
                dynamic_shapes={"images": {0: batch, 3: DOWNSAMPLE * columns}, "widths": {0: batch}},
            )
        )


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _cache_file(target, "could not quantize the ONNX model") as tmp:
        # Matrix products only: they are the transformer's cost; int8 convolutions are slower.
        _quietly(
            lambda: quantize_dynamic(source, tmp, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
        )


def graph_for(model: Recognizer, int8: bool = False) -> Path:
    """The cached ONNX graph of ``model`` (exported now if missing)."""
    if not available():
        raise UnavailableError("onnxruntime is not installed")
    folder = cache_dir()
    key = model_key(model)  # hashes every weight: once, for both files
    plain = folder / f"{key}.onnx"
    if not plain.is_file():
        _export(model, plain)
    if not int8:
        return plain
    quantized = folder / f"{key}.int8.onnx"
    if not quantized.is_file():
        _quantize(plain, quantized)
    return quantized


def _session(path: Path, threads: int | None):
    """An ONNX Runtime session of the cached graph ``path`` on the CPU, with ``threads`` (default:
    torch's). A graph it cannot load is a damaged cache entry: dropped, so the next run exports
    it again, and PyTorch runs this time (UnavailableError)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:
        path.unlink(missing_ok=True)
        raise UnavailableError(f"could not load the cached ONNX graph {path}: {error}") from error


class OnnxCTC:
    """Runs the exported CTC graph: numpy in, numpy out. Each line of a batch runs on its own,
    ``threads`` lines at once (default: torch's threads), each on one ONNX Runtime thread: in
    int8 the dynamic quantization scales a whole input's activations together, so a line run
    beside others read a little differently from the same line alone (deleting a line on a page
    could change its neighbours' text), and a line alone has no padding to compute
    (benchmarks/RESULTS.md, "Each line read on its own"). The worker threads end with the object."""

    def __init__(self, model: Recognizer, threads: int | None = None, int8: bool = False):
        path = graph_for(model, int8)
        self.session = _session(path, 1)
        self.path = path
        workers = threads or torch.get_num_threads()
        # ONNX Runtime's run() is thread-safe and lets go of the GIL while it computes.
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="mspt-onnx") if workers > 1 else None

    def __call__(self, images: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """images (B >= 1, 1, H, W) float32 as ``collate`` pads them, widths (B,) -> log-probabilities
        (B, F, C) and real frames per line (B,); a line's frames past its own are zero."""
        widths = widths.astype(np.int64)

        def run_line(i: int) -> tuple[np.ndarray, np.ndarray]:
            own = np.ascontiguousarray(images[i : i + 1, :, :, : padded_width(int(widths[i]))])
            return self.session.run(None, {"images": own, "widths": widths[i : i + 1]})

        indices = range(len(images))
        per_line = list(self._pool.map(run_line, indices)) if self._pool else [run_line(i) for i in indices]
        frames = np.concatenate([line_frames for _, line_frames in per_line])
        classes = per_line[0][0].shape[2]
        longest = max(line_log_probs.shape[1] for line_log_probs, _ in per_line)
        log_probs = np.zeros((len(images), longest, classes), np.float32)
        for i, (line_log_probs, _) in enumerate(per_line):
            log_probs[i, : line_log_probs.shape[1]] = line_log_probs[0]
        return log_probs, frames


# --- the line finder's network ------------------------------------------------------------------

FINDER_GRAPH_VERSION = 1  # bump when the export below changes; linefinder.py is hashed into the key
FINDER_CODE = Path(__file__).resolve().parent / "layout" / "linefinder.py"


def _export_finder(net: nn.Module, stride: int, target: Path) -> None:
    """Write the line finder's network (page (1, 1, H, W), H and W multiples of ``stride`` ->
    logits (1, 2, H/2, W/2)), weights inside, to ``target`` atomically."""
    net = copy.deepcopy(net).cpu().float().eval()  # a copy: the finder's own is left as it is
    rows = torch.export.Dim("rows", min=1, max=4096)
    columns = torch.export.Dim("columns", min=1, max=4096)
    with _cache_file(target, "could not export the line finder to ONNX") as tmp:
        _quietly(
            lambda: torch.onnx.export(
                net,
                (torch.zeros(1, 1, 2 * stride, 3 * stride),),
                tmp,
                input_names=["page"],
                output_names=["logits"],
                dynamo=True,
                verbose=False,
                external_data=False,
                dynamic_shapes=({2: stride * rows, 3: stride * columns},),  # by position: the net names it x
            )
        )


class OnnxLineNet:
    """The line finder's network (``layout.linefinder.LineNet``) run by ONNX Runtime: the
    network 1.4-1.8 times as fast as on PyTorch at one CPU thread (exported in about 8 s, once
    per machine). Its graph is cached as the recognizer's are, keyed by the weights it has when the
    session is made: only for a network whose weights no longer change (one loaded from a file).
    Anything that stops it is an UnavailableError."""

    def __init__(self, net: nn.Module, config: dict, stride: int, threads: int | None = None):
        if not available():
            raise UnavailableError("onnxruntime is not installed")
        # A frozen bundle ships bytecode only: there its version names the code.
        sources = [FINDER_CODE] if FINDER_CODE.is_file() else []
        try:
            key = _key({"config": config, "graph": FINDER_GRAPH_VERSION}, sources, net)
        except Exception as error:  # anything that stops the key stops ONNX, not the page
            raise UnavailableError(f"cannot name the line finder's graph: {error}") from error
        path = cache_dir() / f"finder-{key}.onnx"
        if not path.is_file():
            _export_finder(net, stride, path)
        self.session = _session(path, threads)
        self.path = path

    def __call__(self, page: np.ndarray) -> np.ndarray:
        """page (1, 1, H, W) float32 -> logits (1, 2, H/2, W/2)."""
        return self.session.run(None, {"page": page})[0]
