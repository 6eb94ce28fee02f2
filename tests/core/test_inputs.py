"""The one home of what counts as an input: page image files, folder walking, ground truth beside
an image, and the names of the pages of a multi-page file."""

import os
from pathlib import Path

from mspt_core.inputs import (
    IMAGE_SUFFIXES,
    PAGE_SUFFIXES,
    expand_folders,
    folder_files,
    ground_truth_candidates,
    page_stem,
)


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_page_files_are_the_images_and_pdfs():
    assert ".pdf" in PAGE_SUFFIXES and ".pdf" not in IMAGE_SUFFIXES
    assert IMAGE_SUFFIXES < PAGE_SUFFIXES
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff"} <= IMAGE_SUFFIXES


def test_folders_are_walked_sorted_with_suffixes_in_any_case(tmp_path):
    _touch(tmp_path, "b.png", "a.XML", "notes.txt", "sub/c.TIF", "sub/d.xml")
    assert folder_files(tmp_path) == sorted(
        [tmp_path / "a.XML", tmp_path / "b.png", tmp_path / "notes.txt", tmp_path / "sub/c.TIF", tmp_path / "sub/d.xml"]
    )
    assert folder_files(tmp_path, PAGE_SUFFIXES) == [tmp_path / "b.png", tmp_path / "sub/c.TIF"]
    assert folder_files(tmp_path, PAGE_SUFFIXES, recursive=False) == [tmp_path / "b.png"]
    assert folder_files(tmp_path, {".xml"}) == [tmp_path / "a.XML", tmp_path / "sub/d.xml"]


def test_a_walk_can_leave_out_hidden_names_and_folders_and_keep_unreadable_entries(tmp_path):
    _touch(tmp_path, "a.png", ".partial.png", ".git/b.png", "out/c.png", "sub/d.png")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "broken.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "linked").symlink_to(tmp_path / "sub")  # a link to a folder is not followed
    assert folder_files(tmp_path, PAGE_SUFFIXES, hidden=False, skip=[tmp_path / "out"]) == [
        tmp_path / "a.png",
        tmp_path / "sub/d.png",
    ]
    assert folder_files(tmp_path, PAGE_SUFFIXES, hidden=False, regular=False, skip=[tmp_path / "out"]) == [
        tmp_path / "a.png",
        tmp_path / "broken.png",
        tmp_path / "pipe.png",
        tmp_path / "sub/d.png",
    ]
    assert tmp_path / ".git/b.png" in folder_files(tmp_path, PAGE_SUFFIXES)  # hidden names count by default


def test_files_stay_as_given_and_folders_expand(tmp_path):
    _touch(tmp_path, "x.png", "dir/y.png", "dir/z.txt")
    given = [tmp_path / "missing.png", tmp_path / "dir", tmp_path / "x.png"]
    assert expand_folders(given, PAGE_SUFFIXES) == [
        tmp_path / "missing.png",
        tmp_path / "dir/y.png",
        tmp_path / "x.png",
    ]


def test_ground_truth_lies_beside_the_image_or_in_page():
    image = Path("/data/book/scan.jpg")
    assert ground_truth_candidates(image) == [Path("/data/book/scan.xml"), Path("/data/book/page/scan.xml")]


def test_pages_of_a_multi_page_file_are_numbered_with_three_digits():
    assert page_stem(Path("in/scan.png"), 0, 1) == "scan"
    assert page_stem(Path("in/book.pdf"), 2, 12) == "book_p003"
    assert page_stem(Path("book.tiff"), 999, 1000) == "book_p1000"
