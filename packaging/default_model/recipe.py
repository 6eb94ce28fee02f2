"""Train the bundled default model: synthetic lines + real ground-truth lines of ../shared/data,
each line cut three ways (along its polygon, as its box with a margin, and along the polygon
mspt's own line finder draws), selected on val splits (polygon and box crops). Every choice is
in the recipe JSON; the seed is fixed.

    .venv/bin/python packaging/default_model/recipe.py --out ../runs/default-fast --threads 1
    .venv/bin/python packaging/ship_model.py ../runs/default-fast/best --int8-check SET/val ...

recipe.json (the default): the printed and typewritten sets. joint.json (--recipe): print and
handwriting together, the product's own way: first masked self-supervised pre-training of the
encoder on the train pages of every set with their text thrown away (progressive masking, loss
on visible tokens too), then supervised training from that encoder. A recipe with a "base"
(handwriting-v2.json, default-v2.json) trains on from a shipped model instead: the model folder
named there, checked against the SHA-256 of its weights and copied into the run folder at the
first start (so the run still resumes after the bundled model has been replaced); a base with
"layers" is deepened there to that many encoder layers, the added ones starting as the identity,
and one with "frontend_channels" gets that wider front end, the added channels starting without
effect on what was there.
Such a round may keep a moving average of its weights ("ema_decay") and validate, and keep, its
weights blended toward its base ("tuned_share", the share of the trained weights, between 0 and
1): every validation reads the blend, so the round keeps the step whose blend reads best.
"augment_strength" (default 1) scales how far the augmentation moves the shape of the writing
(slant, wobble, curl; ``mspt_core.data.augment``).

Keep the run folder outside the repository. Started again with the same --out, the run resumes
exactly from its last checkpoint (pre-training, then training; the prepared lines are cached
there, so a resume starts in seconds); a run folder made with another recipe is refused. Needs
the Debian fonts and corpora (`make fonts`) and ../shared/data. On a GPU, a larger model:
    .venv/bin/python packaging/default_model/recipe.py --out ../runs/gpu --device cuda \\
        --set size=base synthetic_lines=200000 steps=60000 batch_size=64
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import load_recipe, recipe_pretraining, shared_split, train_settings  # noqa: E402
from mspt_core.atomic import atomic_write  # noqa: E402
from mspt_core.cli.common import TrainingBar, set_threads  # noqa: E402
from mspt_core.data.augment import checked_strength  # noqa: E402
from mspt_core.data.lines import LineSample, LineSet, lines_from_page_xml  # noqa: E402
from mspt_core.data.synth import Corpus, FontSet, LineSynthesizer  # noqa: E402
from mspt_core.model.config import DOWNSAMPLE  # noqa: E402
from mspt_core.models import WEIGHTS, load_model, save_model, weights_sha256  # noqa: E402
from mspt_core.train.settings import AS_CUT  # noqa: E402
from mspt_core.train.supervised import train_recognizer  # noqa: E402

RECIPE = Path(__file__).with_name("recipe.json")
PRETRAIN = "pretrain"  # the pre-training stage's folder inside the run folder
PREPARED = "prepared-lines"  # cache of the rendered and cut lines in the run folder
BASE = "base"  # the copy of a recipe's base model inside the run folder


def check_base(recipe: dict) -> None:
    """A recipe's base asks for a shape it can have: refused before anything is prepared."""
    layers, channels = recipe["base"].get("layers"), recipe["base"].get("frontend_channels")
    height = recipe["base"].get("height")
    if height is not None and not (
        isinstance(height, int) and not isinstance(height, bool) and height == recipe.get("height")
    ):
        raise SystemExit(
            f'the base\'s "height" ({height!r}) must be the whole number of px the recipe cuts lines at '
            f'("height": {recipe.get("height")!r})'
        )
    if height is not None and height % DOWNSAMPLE:
        raise SystemExit(f'the base\'s "height" must be a multiple of {DOWNSAMPLE} px, got {height}')
    if layers is not None and not (isinstance(layers, int) and not isinstance(layers, bool) and 1 <= layers <= 64):
        raise SystemExit(f'the base\'s "layers" must be a whole number of encoder layers, got {layers!r}')
    if channels is not None and not (
        isinstance(channels, list)
        and len(channels) == 4
        and all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 1024 for c in channels)
    ):
        raise SystemExit(f'the base\'s "frontend_channels" must be 4 whole numbers of channels, got {channels!r}')


def base_model(recipe: dict, out: Path) -> Path:
    """The model a recipe with a "base" trains on from: at the first start the model folder named
    there (relative to the repository), checked against the recipe's SHA-256 of its weights and
    copied into the run folder (grown there where the base asks: ``grow``); later starts use the
    copy."""
    check_base(recipe)
    copy = out / BASE
    if not copy.is_dir():
        source = REPO / recipe["base"]["model"]
        if not (source / WEIGHTS).is_file() or weights_sha256(source) != recipe["base"]["sha256"]:
            raise SystemExit(
                f"{source} is not the base this recipe names (SHA-256 {recipe['base']['sha256']} of its "
                f"weights); check out the commit named in the recipe's comment to train it again"
            )
        partial = out / f"{BASE}.partial"
        shutil.copytree(source, partial, dirs_exist_ok=True)
        try:
            base = recipe["base"]
            grow(partial, base.get("layers"), base.get("frontend_channels"), base.get("height"))
        except SystemExit:
            shutil.rmtree(partial)
            raise
        partial.rename(copy)
    return copy


def grow(folder: Path, layers: int | None, channels: list[int] | None, height: int | None = None) -> None:
    """The model in ``folder`` rewritten with ``layers`` encoder layers (the added ones starting
    as the identity: ``Recognizer.deepened``) and a front end of ``channels`` (the added channels
    feeding nothing that was there: ``Recognizer.widened``): it reads as before, with more to
    train. ``height``: lines read that many px high (``Recognizer.taller``: it reads worse until
    trained). Nothing to do where all are None."""
    if layers is None and channels is None and height is None:
        return
    loaded = load_model(folder)
    grown, config = loaded.model, loaded.config
    # The int8 check was measured on the smaller network: ship_model.py measures it again.
    metadata = {k: v for k, v in loaded.metadata.items() if k != "inference"}
    try:
        if layers is not None:
            grown = grown.deepened(layers)
            metadata["deepened_from_layers"] = config.layers
        if channels is not None:
            grown = grown.widened(tuple(channels))
            metadata["widened_from_channels"] = list(config.frontend_channels)
        if height is not None and height != config.height:
            grown = grown.taller(height)
            metadata["taller_from_height"] = config.height
    except ValueError as error:
        raise SystemExit(f"the base cannot grow as the recipe asks: {error}") from error
    metadata["config"] = grown.config.to_json()
    metadata["line_height"] = grown.config.height
    metadata["parameters"] = grown.parameter_count()
    save_model(folder, grown, loaded.charset, metadata)


def synthetic_lines(recipe: dict) -> LineSet:
    """The same lines for the same seed: sample i depends only on the seed."""
    synth = LineSynthesizer(
        Corpus.installed(recipe["synthetic_languages"], recipe.get("dialogue", 0.0)),
        FontSet.installed(None, recipe["font_categories"]),
        recipe["height"],
        recipe["degradation_strength"],
    )
    rng = np.random.default_rng(recipe["seed"])
    lines = LineSet()
    for i, line in enumerate(synth.samples(rng, recipe["synthetic_lines"])):
        lines.samples.append(LineSample(line.image, line.text, f"synthetic#{i} ({line.font}, {line.language})"))
    return lines


def real_lines(splits: list[str], crops: list[str], recipe: dict) -> LineSet:
    """Every line of the named ``set/split``s, once per crop style."""
    lines = LineSet()
    for name in splits:
        for xml in shared_split(name):
            for crop in crops:
                lines.extend(
                    lines_from_page_xml(
                        xml,
                        recipe["height"],
                        crop=crop,
                        seed=recipe["seed"],
                        box_margins=(recipe["box_margin_min"], recipe["box_margin_max"]),
                    )
                )
    return lines


def _data_key(recipe: dict) -> str:
    """What the prepared lines depend on (the data settings, not the training ones): a cache
    made with other data settings is not reused."""
    training = (
        *("steps", "batch_size", "lr", "warmup", "val_every", "real_repeats", "train_widths", "base"),
        *("ema_decay", "tuned_share", "augment_strength"),
    )
    data_settings = {k: v for k, v in recipe.items() if k not in training}
    return hashlib.sha256(json.dumps(data_settings, sort_keys=True).encode()).hexdigest()[:16]


def save_prepared(folder: Path, sets: dict[str, LineSet], key: str) -> None:
    """Line images as one flat uint8 array per set plus JSON (no pickles)."""
    index: dict = {"key": key, "sets": {}}
    arrays = {}
    for name, lines in sets.items():
        arrays[name] = (
            np.concatenate([s.image.ravel() for s in lines.samples]) if lines.samples else np.zeros(0, np.uint8)
        )
        index["sets"][name] = {
            "widths": [int(s.image.shape[1]) for s in lines.samples],
            "texts": lines.texts,
            "sources": [s.source for s in lines.samples],
            "skipped": lines.skipped,
        }
    atomic_write(folder / f"{PREPARED}.npz", lambda f: np.savez(f, **arrays))
    atomic_write(folder / f"{PREPARED}.json", json.dumps(index).encode())


def load_prepared(folder: Path, key: str, height: int) -> dict[str, LineSet] | None:
    index_path, arrays_path = folder / f"{PREPARED}.json", folder / f"{PREPARED}.npz"
    if not (index_path.is_file() and arrays_path.is_file()):
        return None
    index = json.loads(index_path.read_text())
    if index.get("key") != key:
        return None
    sets = {}
    with np.load(arrays_path, allow_pickle=False) as arrays:
        for name, meta in index["sets"].items():
            flat, offset, lines = arrays[name], 0, LineSet(skipped=meta["skipped"])
            for width, text, source in zip(meta["widths"], meta["texts"], meta["sources"], strict=True):
                size = width * height
                lines.samples.append(LineSample(flat[offset : offset + size].reshape(height, width), text, source))
                offset += size
            sets[name] = lines
    return sets


def pretrained_encoder(recipe: dict, out: Path, device: str) -> Path:
    """The pre-training stage (recipe["pretrain"]): the train pages' lines, text thrown away,
    into a line store, then masked pre-training of the encoder. Resumes like the training."""
    from mspt_core.data.linestore import LineStore, build_line_store
    from mspt_core.pretrain import pretrain_encoder

    folder = out / PRETRAIN
    splits, method, settings = recipe_pretraining(recipe, device)
    xmls = [xml for name in splits for xml in shared_split(name)]
    if LineStore.is_store(folder / "lines"):  # built by an earlier start of this run
        store = LineStore(folder / "lines")
        print(f"pre-training on {len(store)} unlabeled lines of {len(xmls)} pages (store built earlier)")
    else:
        store, skipped = build_line_store(xmls, folder / "lines", recipe["height"])
        print(f"pre-training on {len(store)} unlabeled lines of {len(xmls)} pages ({len(skipped)} skipped)")
    outcome = pretrain_encoder(
        store, folder, method, settings, on_progress=TrainingBar(settings.steps), on_status=print
    )
    if outcome.encoder_path is None:
        raise SystemExit("pre-training stopped; run the same command again to resume")
    return outcome.encoder_path


def check_run_folder(out: Path, recipe: dict) -> None:
    """A run folder belongs to one recipe: resuming it with other settings is refused."""
    recorded = out / "recipe.json"
    if recorded.is_file() and json.loads(recorded.read_text()) != recipe:
        raise SystemExit(f"{out} was started with another recipe ({recorded}); use a new --out")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(recorded, json.dumps(recipe, indent=1, sort_keys=True).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, best model)")
    parser.add_argument(
        "--recipe",
        type=Path,
        default=RECIPE,
        help="recipe JSON (default: recipe.json; joint.json: print and handwriting)",
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override recipe.json")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe, args.set)
    if "pretrain" in recipe and "train_widths" in recipe:
        raise SystemExit('"train_widths" stretches the lines a recognizer trains on: not with "pretrain"')
    if "augment_strength" in recipe:
        if "pretrain" in recipe:
            raise SystemExit('"augment_strength": not with "pretrain" (its fine-tuning stage augments at strength 1)')
        try:
            checked_strength(recipe["augment_strength"])
        except ValueError as error:
            raise SystemExit(f'"augment_strength": {error}') from None
    if "tuned_share" in recipe:
        share = recipe["tuned_share"]
        if "base" not in recipe:
            raise SystemExit('"tuned_share" blends a round\'s weights toward its "base": it needs one')
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
            raise SystemExit(f'"tuned_share" is the trained weights\' share in a blend: between 0 and 1, not {share!r}')
    if "base" in recipe:
        check_base(recipe)
    set_threads(args.threads)
    check_run_folder(args.out, recipe)

    started = time.monotonic()
    key = _data_key(recipe)
    sets = load_prepared(args.out, key, recipe["height"])
    if sets is None:
        sets = {
            "synthetic": synthetic_lines(recipe),
            "real": real_lines(recipe["real_train"], recipe["train_crops"], recipe),
            "val": real_lines(recipe["real_val"], recipe["val_crops"], recipe),
        }
        save_prepared(args.out, sets, key)
    synthetic, real, val = sets["synthetic"], sets["real"], sets["val"]
    print(
        f"{len(synthetic)} synthetic lines, {len(real)} real train lines ({', '.join(recipe['train_crops'])} "
        f"crops; {len(real.skipped)} skipped), {len(val)} val lines; ready in {time.monotonic() - started:.0f} s"
    )
    train_set = LineSet(synthetic.samples + real.samples * recipe["real_repeats"], real.skipped)

    settings = train_settings(
        recipe,
        val_every=recipe["val_every"],
        checkpoint_every=recipe["val_every"],
        seed=recipe["seed"],
        device=args.device,
    )
    description = (
        f"{recipe['synthetic_lines']} synthetic lines ({', '.join(recipe['synthetic_languages'])}; "
        f"fonts: {', '.join(recipe['font_categories'])}; seed {recipe['seed']}) + "
        f"{', '.join(recipe['real_train'])} ({', '.join(recipe['train_crops'])} crops); "
        f"selected on {', '.join(recipe['real_val'])} ({', '.join(recipe['val_crops'])} crops); "
        f"recipe packaging/default_model/{args.recipe.name} {json.dumps(recipe, sort_keys=True)}"
    )
    if "base" in recipe:
        outcome = train_recognizer(
            train_set,
            val,
            args.out,
            settings,
            head=recipe["head"],
            base_model=base_model(recipe, args.out),
            on_progress=TrainingBar(settings.steps),
            data_description=description,
            train_widths=recipe.get("train_widths", AS_CUT),
            augment_strength=recipe.get("augment_strength", 1.0),
            # A round validates, and keeps, its weights blended toward its base at this share.
            tuned_share=recipe.get("tuned_share", 1.0),
            select_blended="tuned_share" in recipe,
        )
    elif "pretrain" in recipe:
        from mspt_core.train.finetune import finetune_recognizer

        encoder = pretrained_encoder(recipe, args.out, args.device)
        outcome = finetune_recognizer(
            train_set,
            val,
            args.out,
            settings,
            encoder,
            head=recipe["head"],
            encoder_lr_scale=recipe["pretrain"]["encoder_lr_scale"],
            on_progress=TrainingBar(settings.steps),
            data_description=description,
        )
    else:
        outcome = train_recognizer(
            train_set,
            val,
            args.out,
            settings,
            size=recipe["size"],
            head=recipe["head"],
            on_progress=TrainingBar(settings.steps),
            data_description=description,
            train_widths=recipe.get("train_widths", AS_CUT),
            augment_strength=recipe.get("augment_strength", 1.0),
        )
    result = outcome.result
    print(
        f"{result.status} after {result.step} steps; best val CER {result.best_metric}; model in {outcome.model_path}"
    )


if __name__ == "__main__":
    main()
