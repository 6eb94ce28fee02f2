"""Memory and time at the caps: the largest page file and the largest image mspt admits are
processed within stated limits (issue 18).

    nice -n 15 .venv/bin/python benchmarks/caps.py [--dir DIR] [--keep]

Makes the worst cases in a temporary folder — a PAGE file and an ALTO file just under the page
file cap (mspt_core.formats.xmlsafe.MAX_BYTES) holding as many short lines as fit, and a page
image at the pixel cap (mspt_core.images.MAX_PIXELS, real printed pages tiled) — runs
`mspt convert` and `mspt segment` on them, each in a fresh process, and prints each one's wall
time and peak resident memory (from wait4's rusage), against the limits below. Exit status 1
when one is over its limit. Not part of the test suite: it takes minutes and gigabytes."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import machine

from mspt_core.formats.xmlsafe import MAX_BYTES
from mspt_core.images import MAX_PIXELS

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "sample-page.png"
PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
LINES_PER_BLOCK = 50
TEXT = "Mr. Bennet was so odd a mixture of quick parts, sarcastic humour, reserve"

# (seconds, MiB) each case must stay within, on one core of the machine in RESULTS.md.
LIMITS = {
    "page": (20.0, 512),
    "image": (120.0, 2048),
}


@dataclass
class Case:
    name: str
    argv: list[str]
    limit: tuple[float, int]
    input_note: str


def _line_page(number: int, y: int) -> str:
    return (
        f'<TextLine id="l{number}"><Coords points="10,{y} 1000,{y} 1000,{y + 20} 10,{y + 20}"/>'
        f'<Baseline points="10,{y + 16} 1000,{y + 16}"/>'
        f"<TextEquiv><Unicode>{TEXT} {number}</Unicode></TextEquiv></TextLine>\n"
    )


def _line_alto(number: int, y: int) -> str:
    return (
        f'<TextLine ID="l{number}" HPOS="10" VPOS="{y}" WIDTH="990" HEIGHT="20" BASELINE="{y + 16}">'
        f'<String CONTENT="{TEXT} {number}" HPOS="10" VPOS="{y}" WIDTH="990" HEIGHT="20"/></TextLine>\n'
    )


def write_page_file(path: Path, fmt: str, budget: int) -> int:
    """A PAGE or ALTO file of one page, just under ``budget`` bytes, in blocks of 50 lines; the
    number of lines written."""
    if fmt == "page":
        head = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<PcGts xmlns="{PAGE_NS}">'
            '<Page imageFilename="page.png" imageWidth="1100" imageHeight="100000">\n'
        )
        tail = "</Page></PcGts>\n"
        open_block = '<TextRegion id="r{n}"><Coords points="0,0 1100,0 1100,100000 0,100000"/>\n'
        close_block, line = "</TextRegion>\n", _line_page
    else:
        head = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<alto xmlns="{ALTO_NS}"><Description>'
            "<MeasurementUnit>pixel</MeasurementUnit><sourceImageInformation><fileName>page.png</fileName>"
            '</sourceImageInformation></Description><Layout><Page ID="p1" WIDTH="1100" HEIGHT="100000">'
            "<PrintSpace>\n"
        )
        tail = "</PrintSpace></Page></Layout></alto>\n"
        open_block = '<TextBlock ID="r{n}" HPOS="0" VPOS="0" WIDTH="1100" HEIGHT="100000">\n'
        close_block, line = "</TextBlock>\n", _line_alto
    size, number = len(head) + len(tail), 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(head)
        while True:
            block = open_block.format(n=number) + "".join(
                line(number + i, (i * 24) % 99_000) for i in range(LINES_PER_BLOCK)
            )
            block += close_block
            if size + len(block) > budget:
                break
            f.write(block)
            size += len(block)
            number += LINES_PER_BLOCK
        f.write(tail)
    return number


def write_image(path: Path) -> tuple[int, int]:
    """A grey page image of MAX_PIXELS (to within a row), the sample page tiled across it."""
    from PIL import Image

    with Image.open(SAMPLE) as tile:
        tile = tile.convert("L")
        width = tile.width * 5
        height = MAX_PIXELS // width
        image = Image.new("L", (width, height), 255)
        for top in range(0, height, tile.height):
            for left in range(0, width, tile.width):
                image.paste(tile, (left, top))
    image.save(path, compress_level=1)
    return width, height


def run(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak resident MiB and exit status of one command in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
    if process.returncode:
        print(error.strip()[-2000:], file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, process.returncode  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to make the inputs (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the inputs and outputs")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mspt-caps-", dir=args.dir))
    mspt = [sys.executable, "-m", "mspt_core.cli"]
    try:
        budget = MAX_BYTES - 64 * 1024
        cases = []
        for fmt in ("page", "alto"):
            xml = root / f"largest-{fmt}.xml"
            lines = write_page_file(xml, fmt, budget)
            note = f"{xml.stat().st_size / 2**20:.0f} MiB {fmt.upper()}, {lines:,} lines"
            for target in ("txt", "page", "alto"):
                cases.append(
                    Case(
                        f"convert {fmt} -> {target}",
                        [*mspt, "convert", str(xml), "--to", target, "--out", str(root / f"out-{fmt}-{target}")],
                        LIMITS["page"],
                        note,
                    )
                )
        image = root / "largest.png"
        width, height = write_image(image)
        cases.append(
            Case(
                "segment",
                [*mspt, "segment", str(image), "--out", str(root / "out-segment")],
                LIMITS["image"],
                f"{width} x {height} px ({width * height / 1e6:.0f} MP) PNG",
            )
        )

        print(f"# {time.strftime('%Y-%m-%d')}, {machine()}; limits per case: seconds, MiB\n")
        print("| case | input | wall s | peak MiB | limit | within |")
        print("|---|---|---:|---:|---|---|")
        failed = 0
        for case in cases:
            wall, peak, code = run(case.argv)
            ok = code == 0 and wall <= case.limit[0] and peak <= case.limit[1]
            failed += not ok
            verdict = "yes" if ok else ("failed" if code else "NO")
            print(
                f"| {case.name} | {case.input_note} | {wall:.1f} | {peak:.0f} | "
                f"{case.limit[0]:.0f} s, {case.limit[1]} MiB | {verdict} |",
                flush=True,
            )
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"\ninputs and outputs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
