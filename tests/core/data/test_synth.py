"""The synthetic line and page generator: font coverage, rendering, repeatability, the CLI and
the bundled sample page. Needs the Debian fonts of docs/synth.md (CI installs them); without
them the rendering tests skip and say so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mspt_core.cli import main
from mspt_core.data.lines import load_lines
from mspt_core.data.synth import (
    Corpus,
    FontSet,
    LineStyle,
    LineSynthesizer,
    PageLayout,
    PageStyle,
    cover_charset,
    find_fonts,
    render_line,
    render_page,
)
from mspt_core.data.synth.corpus import clean
from mspt_core.errors import DataError
from mspt_core.formats import read_document

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "resources" / "samples"

# English, French, German, Czech and Latin letters, digits and print punctuation.
CHARSET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    ".,;:!?'\"()-&"
    "àâæçéèêëîïôœùûüÿÀÂÇÉÈÊÎÔŒÙÛ"
    "äöüßÄÖÜ"
    "áčďěíňóřšťúůýžÁČĎĚÍŇÓŘŠŤÚŮÝŽ"
    "ſ"
)

# Families of the Debian packages the tests rely on (fonts-dejavu-core, fonts-blankenburg,
# fonts-courier-prime, fonts-urw-base35, fonts-dkg-handwriting).
NEEDED = {"DejaVu Serif", "Blankenburg_UNZ1A", "Courier Prime", "C059", "DkgHandwriting"}


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    faces = find_fonts()
    missing = NEEDED - {f.family for f in faces}
    if missing:
        pytest.skip(f"needs the Debian fonts of docs/synth.md; missing families: {sorted(missing)}")
    return FontSet(faces)


def face(fonts: FontSet, family: str, style: str = "regular"):
    return next(f for f in fonts.faces if f.family == family and f.style == style)


def test_every_charset_character_is_drawn_by_two_fonts(fonts):
    lines = cover_charset(CHARSET, np.random.default_rng(0), fonts, height=32)
    by_char: dict[str, set[str]] = {}
    for line in lines:
        assert line.image.shape[0] == 32
        for ch in set(line.text) & set(CHARSET):
            by_char.setdefault(ch, set()).add(line.font)
    assert {ch for ch, faces in by_char.items() if len(faces) >= 2} == set(CHARSET)
    # And the glyph really shows: each character alone, cleanly rendered, leaves dark ink.
    for ch in CHARSET:
        for f in fonts.covering(ch)[:2]:
            assert render_line(ch, f, 32).min() < 100, f"{f.name} draws no ink for {ch!r}"


def test_too_few_fonts_for_a_character_is_an_error(fonts):
    only_one = FontSet([face(fonts, "Blankenburg_UNZ1A"), face(fonts, "DejaVu Serif")])
    with pytest.raises(DataError, match="fewer than 2 fonts can draw: 'ř' \\(1\\)"):
        cover_charset("ař", np.random.default_rng(0), only_one)
    assert len(cover_charset("ab", np.random.default_rng(0), only_one)) == 4


def test_fonts_lacking_a_glyph_are_skipped(fonts):
    blackletter, serif = face(fonts, "Blankenburg_UNZ1A"), face(fonts, "DejaVu Serif")
    typewriter = face(fonts, "Courier Prime")
    assert not blackletter.can_draw("řeka") and blackletter.missing("řeka") == "ř"
    assert not typewriter.can_draw("Weſt") and serif.can_draw("Weſt")
    rng = np.random.default_rng(0)
    pair = FontSet([blackletter, serif])
    assert {pair.pick("řeka", rng).name for _ in range(30)} == {serif.name}
    assert {pair.pick("reka", rng).name for _ in range(60)} == {serif.name, blackletter.name}
    with pytest.raises(DataError, match="no font has 'ř'"):
        FontSet([blackletter, face(fonts, "DkgHandwriting")]).pick("řeka", rng)
    with pytest.raises(DataError, match="no font has them all"):
        FontSet([blackletter, typewriter]).pick("řeka ſ", rng)  # each has one of the two
    with pytest.raises(DataError, match="ř"):
        render_line("řeka", blackletter, 40)


def test_synthesizer_only_uses_fonts_that_draw_the_whole_line(fonts, tmp_path):
    text = tmp_path / "czech.txt"
    text.write_text("Příliš žluťoučký kůň úpěl ďábelské ódy.\n\nDobrý den, řekl.\n", encoding="utf-8")
    synth = LineSynthesizer(Corpus.from_files([text]), FontSet(fonts.faces), height=40)
    used = {synth.sample(np.random.default_rng(i)).font for i in range(12)}
    no_caron = {f.name for f in fonts.faces if not f.can_draw("řůďť")}
    assert used and not used & no_caron


@pytest.mark.parametrize("height", [24, 40, 64])
def test_rendered_lines_have_the_height_and_dark_text_on_light_paper(fonts, height):
    rng = np.random.default_rng(height)
    for family in ("C059", "DejaVu Serif", "Courier Prime", "Blankenburg_UNZ1A"):
        image = render_line("The quick brown fox jumps", face(fonts, family), height, rng)
        assert image.dtype == np.uint8 and image.ndim == 2 and image.shape[0] == height
        paper, ink = np.percentile(image, 90), np.percentile(image, 1)
        assert paper > 140 and paper - ink > 60, (family, paper, ink)
        assert np.median(image) > ink + 40  # mostly paper, not mostly ink
        assert image.shape[1] > 4 * height  # a line, not a blob


def test_clean_render_is_ink_on_white_and_grows_with_the_text(fonts):
    serif = face(fonts, "C059")
    short, long = render_line("word", serif, 40), render_line("word " * 8, serif, 40)
    assert short.max() == 255 and short.min() < 60
    assert long.shape[1] > 5 * short.shape[1]


def test_degradation_is_repeatable_for_a_fixed_seed(fonts, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("It was the best of times, it was the worst of times.\n", encoding="utf-8")
    synth = LineSynthesizer(Corpus.from_files([text]), fonts, height=40)
    first, again = synth.sample(np.random.default_rng(7)), synth.sample(np.random.default_rng(7))
    other = synth.sample(np.random.default_rng(8))
    assert first.text == again.text and first.font == again.font
    assert np.array_equal(first.image, again.image)
    style = LineStyle(strength=1.0)  # same text, font and style: only the noise draws differ
    a = render_line("same text", face(fonts, "C059"), 40, np.random.default_rng(1), style)
    b = render_line("same text", face(fonts, "C059"), 40, np.random.default_rng(2), style)
    assert a.shape == b.shape and not np.array_equal(a, b)
    assert not np.array_equal(first.image, other.image) or first.text != other.text


def test_cli_writes_pairs_that_load_lines_reads_back(fonts, tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text(
        "Call me Ishmael. Some years ago, never mind how long precisely, having little "
        "or no money in my purse, I thought I would sail about a little.\n",
        encoding="utf-8",
    )
    out = tmp_path / "lines"
    assert main(["synth", "--out", str(out), "--count", "5", "--text", str(text), "--seed", "3", "--height", "36"]) == 0
    written = {p.name.removesuffix(".gt.txt"): p.read_text(encoding="utf-8").strip() for p in out.glob("*.gt.txt")}
    assert len(written) == 5
    loaded = load_lines([out], 36)
    assert len(loaded) == 5 and not loaded.skipped
    corpus_words = set(text.read_text(encoding="utf-8").split())
    for sample in loaded.samples:
        assert sample.image.shape[0] == 36
        assert sample.text == written[Path(sample.source).stem]
        assert set(sample.text.split()) <= corpus_words


def test_cli_writes_a_line_store(fonts, tmp_path):
    linestore = pytest.importorskip("mspt_core.data.linestore")
    text = tmp_path / "corpus.txt"
    text.write_text(
        "Whan that Aprille with his shoures soote the droghte of March hath perced to the roote.\n", encoding="utf-8"
    )
    out = tmp_path / "store"
    assert main(["synth", "--out", str(out), "--count", "4", "--text", str(text), "--store"]) == 0
    store = linestore.LineStore(out)
    assert len(store) == 4 and store.height == 40
    assert len((out / "texts.txt").read_text(encoding="utf-8").splitlines()) == 4


def test_missing_fonts_give_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no usable fonts"):
        FontSet.installed([tmp_path])


def test_rendered_page_ground_truth_matches_the_drawn_text(fonts):
    paragraphs = [
        "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
        "pi rho sigma tau upsilon phi chi psi omega " * 3,
        "Short last paragraph.",
    ]
    layout = PageLayout(width=900, height=700, margin_x=60, margin_top=60, margin_bottom=60, font_px=22)
    image, page = render_page(
        paragraphs,
        face(fonts, "C059"),
        np.random.default_rng(0),
        heading=["A Heading"],
        layout=layout,
        style=PageStyle(skew_deg=0.5),
    )
    assert image.shape == (700, 900) and (page.width, page.height) == (900, 700)
    lines = list(page.lines())
    assert lines[0].text == "A Heading" and lines[0].line_type == "HeadingLine"
    body = " ".join(line.text for line in lines[1:])
    assert body.split() == " ".join(paragraphs).split()  # every word once, in order
    for line in lines:
        x0, y0, x1, y1 = (int(round(v)) for v in line.bbox())
        assert image[y0:y1, x0:x1].min() < 100, line.text  # the polygon holds ink
        (bx0, by0), (bx1, by1) = line.baseline
        assert x0 <= bx0 < bx1 <= x1 and y0 < by0 < y1 and y0 < by1 < y1


def test_bundled_sample_page_matches_its_text_and_image():
    png, xml, txt = (SAMPLES / f"sample-page.{ext}" for ext in ("png", "xml", "txt"))
    page = read_document(xml)
    assert page.image_path == png.resolve()
    assert [line.text for line in page.lines()] == txt.read_text(encoding="utf-8").splitlines()
    assert len(list(page.lines())) >= 25
    from PIL import Image

    with Image.open(png) as image:
        assert image.mode == "L" and image.size == (page.width, page.height)
    assert png.stat().st_size < 1_600_000
    crops = load_lines([xml], 40)
    assert len(crops) == len(list(page.lines())) and not crops.skipped


def test_bundled_sample_lines_are_pairs():
    loaded = load_lines([SAMPLES / "lines"], 40)
    assert len(loaded) >= 5 and all(s.text for s in loaded.samples)


def test_installed_corpora_cover_five_languages_with_diacritics():
    corpus = Corpus.installed()
    if not {"en", "fr", "de", "cs", "la"} <= set(corpus.languages):
        pytest.skip(f"needs the Debian corpora of docs/synth.md; found only {corpus.languages}")
    rng = np.random.default_rng(0)
    for language, marks in (("cs", "řěčšžůáíé"), ("de", "äöüß"), ("fr", "éèàçêô")):
        texts = [corpus.sample(rng, language)[0] for _ in range(40)]
        assert all(t.strip() == t and "  " not in t for t in texts)
        assert any(ch in marks for t in texts for ch in t), language
    assert all(corpus.sample(rng, "la")[0] for _ in range(5))
    assert all(corpus.sample(rng, "en")[0] for _ in range(5))


def test_clean_keeps_print_characters_only():
    assert (
        clean("Zwölf\tBoxkämpfer ┌─┐ jagen\x07 Viktor 😀 quer\n über  den Sylter Deich.")
        == "Zwölf Boxkämpfer jagen Viktor quer über den Sylter Deich."
    )
    assert clean("e\u0301te\u0301") == "été"  # NFC


def test_dialogue_lines_carry_their_languages_speech_marks_and_keep_their_words(tmp_path):
    from mspt_core.data.synth.corpus import QUOTES, speech_marks

    text = "she said that he had come yesterday and would stay until the spring"
    rng = np.random.default_rng(0)
    for language, styles in QUOTES.items():
        marks = {m.strip() for pair in styles for m in pair}
        for _ in range(200):
            line = speech_marks(text, language, rng)
            found = {ch for ch in line if ch in "\"'“”„«»–—-"}
            assert found, line
            assert found <= marks | {"–", "—", "-"}, (language, line)
            # Only marks, sentence punctuation and dash joins are added: the words stay in order.
            stripped = "".join(" " if ch in "–—-" else ch for ch in line if ch not in "\"'“”„«»,.?!")
            assert stripped.split() == text.split(), line
    # A corpus gives about its share of such lines; with none, the lines are the plain text's.
    source = tmp_path / "prose.txt"
    source.write_text("\n\n".join(f"paragraph {i} of words that run on and on for a line" for i in range(50)))
    plain = Corpus.from_files([source]).lines(np.random.default_rng(1))
    assert not any(set(next(plain)) & set('"“”„«»–—') for _ in range(200))
    spoken = Corpus.from_files([source], dialogue=0.3).lines(np.random.default_rng(1))
    share = np.mean([bool(set(next(spoken)) & set('"“”„«»–—')) for _ in range(1000)])
    assert 0.25 < share < 0.35
    with pytest.raises(ValueError, match="share"):
        Corpus.from_files([source], dialogue=1.5)
