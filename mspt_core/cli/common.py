"""Pieces shared by several subcommands: progress bars and common options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", default=None,
                        help="model name from `mspt models list` or a path (default: the bundled default model)")


def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: all cores)")


class TrainingBar:
    """tqdm bar fed by the training loop's progress callback."""

    def __init__(self, total: int, initial: int = 0):
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=initial, unit="step", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, progress) -> None:
        if progress.event == "step":
            self.bar.n = progress.step
            postfix = {"loss": f"{progress.loss:.4f}", "lr": f"{progress.lr:.2e}"}
            if progress.best_metric is not None:
                postfix["best_cer"] = f"{progress.best_metric:.4f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.refresh()
        elif progress.event == "validation":
            self.bar.write(f"step {progress.step}: validation CER {progress.metric:.4f} "
                           f"(best {progress.best_metric:.4f})")
        else:
            self.bar.close()


def page_stem(source: Path, index: int, count: int) -> str:
    """Output file stem of page ``index`` of ``count`` pages of ``source``."""
    return source.stem if count == 1 else f"{source.stem}_p{index + 1:03d}"


def check_output_names(sources: list[Path], out_dir: Path) -> None:
    """Refuse, before any work, inputs whose outputs would overwrite each other or the input's
    own PAGE/ALTO file beside it."""
    from mspt_core.errors import MsptError

    seen: dict[str, Path] = {}
    for source in sources:
        if source.stem in seen and seen[source.stem] != source:
            raise MsptError(f"{seen[source.stem]} and {source} would write the same output files in {out_dir}; "
                            "rename one or run them separately")
        seen[source.stem] = source
        own_xml = source.with_suffix(".xml").resolve()
        if (out_dir / f"{source.stem}.xml").resolve() == own_xml and own_xml.exists():
            raise MsptError(f"{own_xml} belongs to the input {source.name} and would be overwritten; "
                            "choose another --out")
