"""Makes the bundled samples: a scan-like page with its ground truth, and a few line images.

    .venv/bin/python resources/samples/make_samples.py [--out resources/samples]

Writes sample-page.png (grey, ~1700x2200), sample-page.txt (one line per rendered line, in
reading order), sample-page.xml (PAGE XML: true polygons, baselines and text) and
lines/NNN.png + NNN.gt.txt. Fixed seed: a re-run on a machine with the same fonts gives the
same files. The text is the opening of Jane Austen's "Pride and Prejudice" (1813), public
domain; it is set with straight quotes, which every font and every model charset has.
Needs the Debian fonts of docs/synth.md (at least one of the serif families below).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mspt_core.data.synth import FontSet, LineStyle, PageStyle, render_line, render_page
from mspt_core.data.synth.fonts import FontFace
from mspt_core.formats import write_document

SEED = 1813
CREATED = "2026-11-23T00:00:00+00:00"
HEADING = ["PRIDE AND PREJUDICE.", "CHAPTER I."]
PARAGRAPHS = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife.",
    "However little known the feelings or views of such a man may be on his first entering a "
    "neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he "
    "is considered as the rightful property of some one or other of their daughters.",
    '"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is let at last?"',
    "Mr. Bennet replied that he had not.",
    '"But it is," returned she; "for Mrs. Long has just been here, and she told me all about it."',
    "Mr. Bennet made no answer.",
    '"Do not you want to know who has taken it?" cried his wife impatiently.',
    '"You want to tell me, and I have no objection to hearing it."',
    "This was invitation enough.",
    '"Why, my dear, you must know, Mrs. Long says that Netherfield is taken by a young man of large '
    "fortune from the north of England; that he came down on Monday in a chaise and four to see "
    "the place, and was so much delighted with it that he agreed with Mr. Morris immediately; that "
    "he is to take possession before Michaelmas, and some of his servants are to be in the house "
    'by the end of next week."',
    '"What is his name?"',
    '"Bingley."',
    '"Is he married or single?"',
    '"Oh! single, my dear, to be sure! A single man of large fortune; four or five thousand a '
    'year. What a fine thing for our girls!"',
    '"How so? how can it affect them?"',
    '"My dear Mr. Bennet," replied his wife, "how can you be so tiresome! You must know that I am '
    'thinking of his marrying one of them."',
    '"Is that his design in settling here?"',
    '"Design! nonsense, how can you talk so! But it is very likely that he may fall in love with '
    'one of them, and therefore you must visit him as soon as he comes."',
    '"I see no occasion for that. You and the girls may go, or you may send them by themselves, '
    "which perhaps will be still better; for as you are as handsome as any of them, Mr. Bingley "
    'might like you the best of the party."',
]

# Book faces, best first; the first one installed sets the page.
PAGE_FAMILIES = ["C059", "Linux Libertine O", "Nimbus Roman", "Liberation Serif", "DejaVu Serif"]
LINE_FAMILIES = [
    "Nimbus Roman",
    "Linux Libertine O",
    "EB Garamond",
    "Old Standard TT",
    "C059",
    "P052",
    "Liberation Serif",
    "DejaVu Serif",
    "Caladea",
    "FreeSerif",
]
LINE_COUNT = 6


def regular(fonts: FontSet, family: str) -> FontFace | None:
    faces = [f for f in fonts.faces if f.family == family and f.style == "regular"]
    return faces[0] if faces else None


def save_grey_png(image: np.ndarray, path: Path) -> None:
    Image.fromarray(image, mode="L").save(path, optimize=True)


def make_page(fonts: FontSet, out: Path, rng: np.random.Generator) -> None:
    face = next((f for f in (regular(fonts, n) for n in PAGE_FAMILIES) if f), None)
    if face is None:
        sys.exit(f"none of {PAGE_FAMILIES} is installed; see docs/synth.md")
    # Mild wear and noise: noise is what makes a PNG large, and the page must stay small.
    style = PageStyle(skew_deg=0.45, strength=0.4, ink_level=35.0)
    image, page = render_page(
        PARAGRAPHS, face, rng, heading=HEADING, style=style, page_id="sample-page", whole_paragraphs=True
    )
    png = out / "sample-page.png"
    save_grey_png(image, png)
    page.image_path = png.resolve()
    page.metadata["Creator"] = f"mspt make_samples.py (seed {SEED}, font {face.name})"
    # Fixed dates keep a re-run byte-identical.
    page.metadata["Created"] = page.metadata["LastChange"] = CREATED
    write_document(page, out / "sample-page.xml", "page")
    (out / "sample-page.txt").write_text(page.text + "\n", encoding="utf-8")
    print(f"{png}: {image.shape[1]}x{image.shape[0]}, {sum(1 for _ in page.lines())} lines, {face.name}")


def make_lines(fonts: FontSet, out: Path, rng: np.random.Generator) -> None:
    folder = out / "lines"
    folder.mkdir(parents=True, exist_ok=True)
    faces = [f for f in (regular(fonts, n) for n in LINE_FAMILIES) if f][:LINE_COUNT]
    # Whole sentences cut to line length, one per face.
    words = " ".join(PARAGRAPHS[9:]).split()
    for n, face in enumerate(faces):
        start = n * 9
        text = " ".join(words[start : start + 9])
        style = LineStyle.draw(rng, strength=0.5)
        image = render_line(text, face, 48, rng, style)
        save_grey_png(image, folder / f"{n + 1:03d}.png")
        (folder / f"{n + 1:03d}.gt.txt").write_text(text + "\n", encoding="utf-8")
        print(f"{folder / f'{n + 1:03d}.png'}: {face.name}: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    fonts = FontSet.installed()
    make_page(fonts, args.out, np.random.default_rng(SEED))
    make_lines(fonts, args.out, np.random.default_rng(SEED + 1))


if __name__ == "__main__":
    main()
