"""Line datasets from real ALTO, from PAGE, and from image + text pairs; augmentation; batching."""

import cv2
import numpy as np
import pytest

from mspt_core.data.augment import augment
from mspt_core.data.batching import width_batches
from mspt_core.data.lines import lines_from_page_xml, load_lines
from mspt_core.errors import DataError
from mspt_core.formats import read_document, write_document

DRACULA = "data/Dracula/05dracula.pdf_page_51.xml"


def test_alto_lines_are_cut_at_model_height_with_their_text(fondue):
    page = read_document(fondue / DRACULA)
    lines = lines_from_page_xml(fondue / DRACULA, 40)
    assert [s.text for s in lines.samples] == [ln.text for ln in page.lines() if ln.text.strip()]
    for sample in lines.samples:
        assert sample.image.shape[0] == 40 and sample.image.dtype == np.uint8
        # Printed lines are wider than tall by far, and hold dark ink on light paper.
        assert sample.image.shape[1] > 4 * 40 or len(sample.text) < 15
        assert sample.image.min() < 100 and np.median(sample.image) > 180


def test_training_texts_spell_umlauts_with_latin_letters(typewritten, tmp_path):
    """An EHRI train page's ground truth writes "ä" and "ö" as Cyrillic "ӓ" and "ӧ" (21 times); a
    model trained on it wrote them back. Training reads them as the Latin letters, from PAGE
    files and from image + text pairs alike."""
    xml = typewritten / "data/de-EHRI-ET-WL1375B307/EHRI-ET-WL1375B307_03.xml"
    raw = "".join(line.text for line in read_document(xml).lines())
    assert "ӓ" in raw and "ӧ" in raw
    samples = lines_from_page_xml(xml, 40).samples
    texts = [s.text for s in samples]
    assert not any(ch in text for text in texts for ch in "ӓӧ")
    assert sum(text.count("ä") + text.count("ö") for text in texts) == raw.count("ӓ") + raw.count("ӧ")
    cv2.imwrite(str(tmp_path / "line.png"), samples[0].image)
    (tmp_path / "line.gt.txt").write_text("Gesprӓch", encoding="utf-8")
    assert [s.text for s in load_lines([tmp_path], 40).samples] == ["Gespräch"]


def test_page_xml_gives_the_same_lines_as_alto(fondue, tmp_path):
    page = read_document(fondue / DRACULA)
    page_xml = tmp_path / "dracula.xml"
    write_document(page, page_xml, "page")
    from_alto = lines_from_page_xml(fondue / DRACULA, 40)
    from_page = lines_from_page_xml(page_xml, 40)
    assert from_page.texts == from_alto.texts
    for a, b in zip(from_alto.images, from_page.images, strict=True):
        assert a.shape == b.shape


def test_image_and_text_pairs_and_what_is_skipped(fondue, tmp_path):
    lines = lines_from_page_xml(fondue / DRACULA, 40)
    for i, sample in enumerate(lines.samples[:3]):
        cv2.imwrite(str(tmp_path / f"l{i}.png"), sample.image)
        suffix = ".gt.txt" if i % 2 else ".txt"
        (tmp_path / f"l{i}{suffix}").write_text(sample.text + "\n", encoding="utf-8")
    cv2.imwrite(str(tmp_path / "orphan.png"), lines.samples[3].image)  # no text beside it: not data
    (tmp_path / "empty.png").write_bytes(cv2.imencode(".png", lines.samples[4].image)[1].tobytes())
    (tmp_path / "empty.txt").write_text("  \n")
    loaded = load_lines([tmp_path], 40)
    assert sorted(loaded.texts) == sorted(s.text for s in lines.samples[:3])
    assert any("empty" in s for s in loaded.skipped)
    with pytest.raises(DataError, match="no labelled lines"):
        load_lines([tmp_path / "orphan.png"], 40)
    with pytest.raises(DataError, match="no such file"):
        load_lines([tmp_path / "missing"], 40)


def test_augmentation_is_repeatable_and_keeps_the_line(fondue):
    image = lines_from_page_xml(fondue / DRACULA, 40).samples[0].image
    a = augment(image, np.random.default_rng(5))
    b = augment(image, np.random.default_rng(5))
    assert np.array_equal(a, b)
    outputs = [augment(image, np.random.default_rng(seed)) for seed in range(8)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outputs)
    assert any(not np.array_equal(o, image) for o in outputs)
    # Still dark text on light paper (faded ink included: clearly darker than the paper).
    assert all(np.median(o) > 150 and np.median(o) - o.min() > 80 for o in outputs)


def test_width_batches_cover_every_line_once_and_keep_padding_small():
    rng = np.random.default_rng(0)
    widths = rng.integers(50, 2000, 300).tolist()
    batches = width_batches(widths, 16, np.random.default_rng(1))
    assert sorted(i for b in batches for i in b) == list(range(300))
    waste = sum(max(widths[i] for i in b) * len(b) - sum(widths[i] for i in b) for b in batches)
    assert waste / sum(widths) < 0.1
    assert width_batches(widths, 16, np.random.default_rng(1)) == batches
    capped = width_batches(widths, 64, max_pixels=4000)
    assert all(max(widths[i] for i in b) * len(b) <= 4000 or len(b) == 1 for b in capped)


def test_validation_split_is_disjoint_repeatable_and_refuses_too_little(fondue):
    from mspt_core.data.lines import split_off_validation

    lines = lines_from_page_xml(fondue / DRACULA, 40)
    train, val = split_off_validation(lines, 0.25, seed=3)
    assert len(val) == int(len(lines) * 0.25) and len(train) + len(val) == len(lines)
    assert {s.source for s in train.samples}.isdisjoint(s.source for s in val.samples)
    assert [s.source for s in split_off_validation(lines, 0.25, seed=3)[1].samples] == [s.source for s in val.samples]
    with pytest.raises(DataError, match="too few"):
        split_off_validation(type(lines)(lines.samples[:1]), 0.5)
    with pytest.raises(DataError, match="between 0 and 1"):
        split_off_validation(lines, 1.5)


def test_every_crop_style_gives_the_same_texts_with_its_own_pixels(fondue):
    polygon = lines_from_page_xml(fondue / DRACULA, 40)
    box = lines_from_page_xml(fondue / DRACULA, 40, crop="box", box_margins=(0, 10), seed=3)
    found = lines_from_page_xml(fondue / DRACULA, 40, crop="found")
    assert box.texts == polygon.texts
    assert any(a.shape != b.shape for a, b in zip(polygon.images, box.images, strict=True))
    assert all("(box)" in s.source for s in box.samples)
    # Our own line finder finds (nearly) every line of this clean page; the rest is counted.
    assert len(found) >= len(polygon) - 2
    assert len(found) + len(found.skipped) == len(polygon) + len(polygon.skipped)
    assert set(found.texts) <= set(polygon.texts)
    assert all("line finder" in reason for reason in found.skipped)
    # As given lines are read: along the found line in its place where it covers the line, else its own.
    finder = lines_from_page_xml(fondue / DRACULA, 40, crop="finder")
    assert finder.texts == polygon.texts
    same = [np.array_equal(a, b) for a, b in zip(polygon.images, finder.images, strict=True)]
    assert 0 < same.count(False) and all("(finder)" in s.source for s in finder.samples)
    # The box margin is drawn per line from the seed: repeatable, and another seed differs.
    again = lines_from_page_xml(fondue / DRACULA, 40, crop="box", box_margins=(0, 10), seed=3)
    other = lines_from_page_xml(fondue / DRACULA, 40, crop="box", box_margins=(0, 10), seed=4)
    assert [i.shape for i in again.images] == [i.shape for i in box.images]
    assert [i.shape for i in other.images] != [i.shape for i in box.images]
    with pytest.raises(ValueError, match="crop must be one of"):
        lines_from_page_xml(fondue / DRACULA, 40, crop="rectangle")


def test_each_scan_damage_keeps_a_readable_line(fondue):
    from mspt_core.data.augment import TRANSFORMS

    image = lines_from_page_xml(fondue / DRACULA, 40).samples[0].image
    for transform, _ in TRANSFORMS:
        out = transform(image, np.random.default_rng(0))
        assert out.shape == image.shape and out.dtype == np.uint8, transform.__name__
        assert not np.array_equal(out, image), f"{transform.__name__} changed nothing"
        # Ink stays darker than paper: the text is still there to read.
        assert np.percentile(out, 5) < np.median(out) - 40, transform.__name__
