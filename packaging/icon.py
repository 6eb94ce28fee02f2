"""Draws mspt's application icon: a page with text lines, the line being read underlined in the
accent colour. Writes packaging/linux/icons/hicolor/NxN/apps/io.github.mspt.png for the usual
sizes (and mspt.ico for Windows). The scalable version, io.github.mspt.svg beside them, is the same
drawing by hand.

    .venv/bin/python packaging/icon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
HERE = Path(__file__).resolve().parent / "linux" / "icons" / "hicolor"
ACCENT = (31, 111, 179, 255)
INK = (60, 60, 60, 255)


def draw(size: int) -> Image.Image:
    scale = 4  # drawn large, then reduced: smooth edges at every size
    side = size * scale
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    unit = side / 64
    pen.rounded_rectangle(
        [10 * unit, 4 * unit, 54 * unit, 60 * unit],
        radius=4 * unit,
        fill=(250, 248, 240, 255),
        outline=INK,
        width=max(1, round(2 * unit)),
    )
    for row, (left, right) in enumerate([(16, 48), (16, 44), (16, 48), (16, 38)]):
        y = (16 + row * 10) * unit
        colour = ACCENT if row == 2 else INK
        pen.rounded_rectangle([left * unit, y, right * unit, y + 4 * unit], radius=2 * unit, fill=colour)
    pen.rectangle([14 * unit, 41 * unit, 50 * unit, 42.5 * unit], fill=ACCENT)  # the line being read
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    for size in SIZES:
        target = HERE / f"{size}x{size}" / "apps" / "io.github.mspt.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        draw(size).save(target, optimize=True)
    draw(256).save(HERE.parent / "mspt.ico", sizes=[(s, s) for s in SIZES if s <= 256])


if __name__ == "__main__":
    main()
