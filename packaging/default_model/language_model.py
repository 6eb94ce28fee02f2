"""Make the bundled character language model (``mspt_core.charlm``) and let a bundled model read
with it. The n-gram counts come from the ground-truth text of the **train** splits of every set
in ../shared/data; alpha (its weight) and beta (the bonus per character) are the pair of GRID
with the lowest mean CER over the **val** splits (each set weighs the same) of the sets the model
was selected on (``--sets``: all 13 for the handwriting model, the six printed and typewritten
ones for the print model), read by the bundled model ``--model`` (polygon crops, its own
engine). Test splits are never read.

    .venv/bin/python packaging/default_model/language_model.py --model handwriting --threads 1
    .venv/bin/python packaging/default_model/language_model.py --model default --sets printed --threads 1

writes resources/reading/NAME.charlm.json (NAME: --name, default "fr-en-de"; made once, then
reused by the next model: --rebuild makes it again), prints the grid, and writes the choice into
the model's file (``"language_model"``), so mspt reads that model with it from then on. Run it
after packaging/ship_model.py, which ships a model without one.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import HANDWRITTEN, PRINTED, shared_split  # noqa: E402
from mspt_core import decode, resources  # noqa: E402
from mspt_core.charlm import CharLM, Fusion  # noqa: E402
from mspt_core.cli.common import set_threads  # noqa: E402
from mspt_core.data.lines import LineSet, lines_from_page_xml  # noqa: E402
from mspt_core.formats import read_document  # noqa: E402
from mspt_core.metrics import cer  # noqa: E402
from mspt_core.models import bundled_models_dir, load_model, save_model  # noqa: E402
from mspt_core.recognize import LineRecognizer  # noqa: E402

ORDER = 6  # characters of context + 1
MIN_CONTEXT_COUNT = 2  # contexts seen once are dropped: the file is 2.9 MB instead of 4.6 MB
GRID = [(alpha, beta) for alpha in (0.2, 0.3, 0.4) for beta in (1.0, 1.5, 2.0, 2.5)]
SETS = list(PRINTED) + list(HANDWRITTEN)


def train_texts() -> list[str]:
    texts = []
    for dataset in SETS:
        for xml in shared_split(f"{dataset}/train"):
            texts += [line.text for region in read_document(xml).regions for line in region.lines if line.text]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="handwriting", help="the bundled model to read with it")
    parser.add_argument("--name", default="fr-en-de")
    parser.add_argument("--sets", choices=["all", "printed"], default="all", help="the val sets to choose on")
    parser.add_argument("--rebuild", action="store_true", help="count the n-grams again even where the file is there")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    set_threads(args.threads)

    path = resources.language_model(args.name)
    if path.is_file() and not args.rebuild:
        lm = CharLM.load(path)
        print(f"{path}: made earlier from {lm.metadata.get('train_lines')} train lines")
    else:
        texts = train_texts()
        lm = CharLM.train(texts, ORDER, MIN_CONTEXT_COUNT)
        lm.metadata = {
            "trained_on": [f"{d}/train" for d in SETS],
            "train_lines": len(texts),
            "train_characters": sum(map(len, texts)),
            "order": ORDER,
            "min_context_count": MIN_CONTEXT_COUNT,
        }
        lm.save(path)
        print(f"{len(texts)} train lines, {sum(map(len, texts))} characters of {len(SETS)} sets")
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")

    model_path = bundled_models_dir() / args.model
    loaded = load_model(model_path)
    reader = LineRecognizer(loaded, device="cpu", language_model=False)
    chosen_sets = SETS if args.sets == "all" else list(PRINTED)
    val: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    for dataset in chosen_sets:
        lines = LineSet()
        for xml in shared_split(f"{dataset}/val"):
            lines.extend(lines_from_page_xml(xml, reader.height, crop="polygon"))
        val[dataset] = (lines.texts, reader.ctc_log_probs(lines.images))
    greedy = {d: cer(t, [reader.charset.decode(decode.greedy(lp).ids) for lp in lps]) for d, (t, lps) in val.items()}

    scores: dict[tuple[float, float], dict[str, float]] = {}
    for alpha, beta in GRID:
        fusion = Fusion(alpha, beta)
        started = time.process_time()
        scores[alpha, beta] = {
            d: cer(
                t,
                [
                    reader.charset.decode(
                        decode.beam_search(lp, fusion.beam, fusion.prune, lm, reader.labels, fusion).ids
                    )
                    for lp in lps
                ],
            )
            for d, (t, lps) in val.items()
        }
        per_line = (time.process_time() - started) / sum(len(lps) for _, lps in val.values())
        print(
            f"alpha {alpha} beta {beta}: mean val CER {np.mean(list(scores[alpha, beta].values())):.2%} "
            f"({1000 * per_line:.0f} CPU ms per line)",
            flush=True,
        )
    alpha, beta = min(scores, key=lambda pair: np.mean(list(scores[pair].values())))
    chosen = scores[alpha, beta]
    print(f"\n| val set | greedy | alpha {alpha}, beta {beta} |\n|---|---|---|")
    for d in chosen_sets:
        print(f"| {d} | {greedy[d]:.2%} | {chosen[d]:.2%} |")
    print(f"| mean | {np.mean(list(greedy.values())):.2%} | {np.mean(list(chosen.values())):.2%} |")
    metadata = dict(loaded.metadata)
    metadata["language_model"] = {
        "name": args.name,
        **dataclasses.asdict(Fusion(alpha, beta)),
        "chosen_on": [f"{d}/val" for d in chosen_sets],
        "val_cer_greedy": {d: round(c, 5) for d, c in greedy.items()},
        "val_cer": {d: round(c, 5) for d, c in chosen.items()},
    }
    save_model(model_path, loaded.model, loaded.charset, metadata, half=True)
    print(f"{model_path} reads with {args.name} from now on")


if __name__ == "__main__":
    main()
