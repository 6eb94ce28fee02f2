"""A transcription project: a folder a person can read without mspt.

    my-project/
        project.json          name, the model that reads it and its line finder, page order,
                              per-page progress
                              (a cache; the XML is the truth)
        0001-scan.jpg         page images, copied in (PDF and multi-page TIFF pages rasterized once)
        page/0001-scan.xml    one PAGE XML per page: lines, text, confidences, status

This is the Transkribus layout, so the folder opens in other tools too. The class is pure
Python (no Qt): the app's widgets and the ``mspt project`` commands observe it through
``listeners`` and change it through ``edits.Editor`` (or directly, where no undo is wanted).

Nothing typed is lost: every page write is atomic, every edit (a line's text, or a page's
lines after lines were added, deleted or moved) is appended to a journal before the next
autosave, and a lock file tells a later session that this one crashed, so that session
replays the journal. Opening a project also removes the temporary files of writes a crash
cut short (no other process writes in a project whose lock this one holds).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mspt_core.atomic import remove_temporaries_of_others
from mspt_core.document import Line, LineStatus, Page, protect_foreign_text
from mspt_core.errors import FormatError, InUseError, MsptError
from mspt_core.inputs import PAGE_SUFFIXES, expand_folders, file_problem, page_stem
from mspt_core.locks import FolderLock, read_owner
from mspt_core.project.journal import Journal

log = logging.getLogger(__name__)

PROJECT_FILE = "project.json"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # a page takes a few hundred bytes there; refuse absurd files unread
XML_DIR = "page"
LOCK_FILE = ".mspt-lock"
FORMAT = "mspt-project"
FORMAT_VERSION = 1
# Files copied as they are; anything else (PDF, TIFF, orientation-tagged JPEG) is rasterized to PNG.
COPY_AS_IS = {".png", ".jpg", ".jpeg"}
# The line finders a project can use: the ``method`` values of ``mspt_core.layout.segment`` (not
# imported here: it loads torch; a test checks the two agree). "auto" is the learned one where
# its model file is present.
SEGMENTERS = ("auto", "learned", "classical")


class ProjectError(MsptError):
    """A project folder cannot be created, opened or written."""


class ProjectInUseError(ProjectError, InUseError):
    """The project is open in another mspt window (another process holds its lock)."""


@dataclass
class PageEntry:
    id: str  # stable, e.g. "0001"
    image: str  # image file, relative to the project folder
    xml: str  # PAGE XML file, relative to the project folder
    source: str = ""  # the file the user added it from, for reference
    lines: int = 0  # cached progress, shown in the page list without parsing every XML
    corrected: int = 0


@dataclass
class Change:
    """What changed, for the views: ``kind`` is "text" (one line's text/status), "texts" (texts
    of many lines of a page, geometry unchanged), "lines" (a page's line geometry or order),
    "pages" (the page list), "model" (the model that reads the project) or "segmenter" (the
    line finder it uses)."""

    kind: str
    page_id: str | None = None
    line_id: str | None = None


@dataclass
class Rejected:
    """A file ``add_files`` could not add, and why (in words for the person)."""

    path: Path
    reason: str


@dataclass
class LinePlace:
    page_index: int
    line_id: str
    confidence: float
    position: int = 0  # the line's place in its page's reading order

    @property
    def order(self) -> tuple[float, int, int]:
        """Least confident first; ties in page and reading order."""
        return self.confidence, self.page_index, self.position


# The project locks this process holds, by folder, with the token of the Project that holds each:
# opening a project again in this process (after a crash of its window) takes its lock over.
_held: dict[Path, tuple[FolderLock, object]] = {}


def count_progress(page: Page) -> tuple[int, int]:
    """(corrected, total) lines of a page."""
    lines = list(page.lines())
    return sum(line.status == LineStatus.CORRECTED for line in lines), len(lines)


def find_line(page: Page, line_id: str) -> Line | None:
    return next((line for line in page.lines() if line.id == line_id), None)


class Project:
    def __init__(self, root: Path, name: str, entries: list[PageEntry], model: str = "", segmenter: str = "auto"):
        self.root = Path(root).resolve()
        self.name = name
        self.model = model  # the model that reads this project: a registry name or a path; "" = the default
        self.segmenter = segmenter  # the line finder of pages segmented from now on: one of SEGMENTERS
        self.entries = entries
        self.listeners: list[Callable[[Change], None]] = []
        self.recovered = False  # the last session did not close cleanly
        self.recovered_edits = 0  # line edits of that session its journal gave back
        self._pages: dict[str, Page] = {}
        self._grey: tuple[str, np.ndarray] | None = None  # one page image kept for line crops
        self._dirty: set[str] = set()
        self.journal = Journal(self.root)
        self._lock_token = object()  # which Project of this process holds the folder's lock

    # --- opening and closing ----------------------------------------------------------------

    @classmethod
    def create(cls, root: str | Path, name: str | None = None) -> Project:
        root = Path(root)
        if root.exists() and any(root.iterdir()):
            raise ProjectError(f"{root}: folder is not empty; choose a new or empty folder for the project")
        try:
            (root / XML_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ProjectError(f"{root}: cannot create the project folder ({error.strerror})") from error
        project = cls(root, name or root.name, [])
        project._write_manifest()
        project._take_lock()
        return project

    @classmethod
    def open(cls, root: str | Path) -> Project:
        root = Path(root)
        manifest = root / PROJECT_FILE
        if not manifest.exists() and not manifest.is_symlink():
            raise ProjectError(
                f"{root}: not an mspt project (no {PROJECT_FILE}); make one with File → New project "
                "(or `mspt project new`) and add its pages there"
            )
        problem = file_problem(manifest)
        if problem:
            raise ProjectError(f"{manifest}: {problem}")
        size = manifest.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise ProjectError(f"{manifest}: refused: {size} bytes is too large for a project file")
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"holds a {type(data).__name__}, not a JSON object")
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}")
            version = data.get("version", 0)
            if not isinstance(version, int):
                raise ValueError(f"version is {version!r}")
            if version > FORMAT_VERSION:
                raise ProjectError(f"{manifest}: made by a newer mspt; please upgrade")
            if not isinstance(data.get("pages"), list):
                raise ValueError("no list of pages")
            entries = [_entry(item) for item in data["pages"]]
            model = data.get("model") or ""  # absent in projects made before models per project
            if not isinstance(model, str):
                raise ValueError(f"model is {model!r}, not a model name")
            segmenter = _segmenter(data.get("segmenter"), manifest)
            name = data.get("name") or root.name
            if not isinstance(name, str):
                raise ValueError(f"name is {name!r}")
            _refuse_paths_outside(root, entries, manifest)
        except OSError as error:
            raise ProjectError(f"{manifest}: cannot read it ({error.strerror or error})") from error
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            # RecursionError: JSON nested too deep to parse, which no project file is
            raise ProjectError(f"{manifest}: not a readable project file ({error})") from error
        project = cls(root, name, entries, model, segmenter)
        project.recovered = project._take_lock()
        if project.recovered:
            project._replay_journal()
        return project

    def _take_lock(self) -> bool:
        """Mark the project open: an OS lock on its LOCK_FILE (``mspt_core.locks``), so another
        process cannot open it too, and no lock outlives its process. True when a previous
        session left its lock file behind (a crash)."""
        path = self.root / LOCK_FILE
        left_behind = path.exists()
        lock = _held[self.root][0] if self.root in _held else FolderLock(path)
        if not lock.acquire():
            pid = read_owner(path).get("pid")
            raise ProjectInUseError(
                f"{self.root}: the project is already open in another mspt window"
                f"{f' (process {pid})' if pid else ''}; close it there first"
            )
        lock.write_owner()
        _held[self.root] = (lock, self._lock_token)
        for folder in (self.root, self.root / XML_DIR):
            remove_temporaries_of_others(folder)  # what writes a crash cut short left
        return left_behind or self.journal.has_entries()

    def _release_lock(self) -> None:
        """Release the project's lock and remove its file, unless another Project of this
        process has taken it over since."""
        lock, token = _held.get(self.root, (None, None))
        if lock is not None and token is self._lock_token:
            del _held[self.root]
            lock.release(remove=True)

    def close(self) -> None:
        """Save everything, then release the lock. Raises ProjectError when saving fails (the
        lock and journal stay, so nothing is lost)."""
        self.save()
        self.journal.clear()
        self._release_lock()

    # --- pages ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.entries)

    def index_of(self, page_id: str) -> int:
        for index, entry in enumerate(self.entries):
            if entry.id == page_id:
                return index
        raise KeyError(page_id)

    def image_path(self, index: int) -> Path:
        return self.root / self.entries[index].image

    def xml_path(self, index: int) -> Path:
        return self.root / self.entries[index].xml

    def page(self, index: int) -> Page:
        """The page's lines, read from its PAGE XML once and then kept in memory."""
        entry = self.entries[index]
        if entry.id not in self._pages:
            from mspt_core.formats import read_document

            try:
                page = read_document(self.xml_path(index))
            except FormatError as error:
                raise ProjectError(f"page {index + 1}: {error}") from error
            page.image_path = self.image_path(index)
            page.id = entry.id
            self._pages[entry.id] = page
        return self._pages[entry.id]

    def page_by_id(self, page_id: str) -> Page:
        return self.page(self.index_of(page_id))

    def grey(self, index: int) -> np.ndarray:
        """The page image as grey uint8, for line crops (the last one asked for is kept)."""
        entry = self.entries[index]
        if self._grey is None or self._grey[0] != entry.id:
            from mspt_core.images import load_grey

            self._grey = (entry.id, load_grey(self.image_path(index)))
        return self._grey[1]

    def progress(self, index: int) -> tuple[int, int]:
        entry = self.entries[index]
        return entry.corrected, entry.lines

    def _next_number(self) -> int:
        """A page number never used in this project: a removed page's number is not reused, as
        its image and XML stay in the folder and must not be overwritten."""
        numbers = [int(e.id) for e in self.entries if e.id.isdigit()]
        number = max(numbers, default=0) + 1
        while any(self.root.glob(f"*/{number:04d}-*")) or any(self.root.glob(f"{number:04d}-*")):
            number += 1
        return number

    def add_files(
        self,
        paths: Iterable[str | Path],
        dpi: float = 300,
        use_ground_truth: bool = True,
        should_stop: Callable[[], bool] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        rejected: list[Rejected] | None = None,
    ) -> list[int]:
        """Add page images (files or folders of them; each page of a PDF or multi-page TIFF
        becomes a page). Lines come along when a PAGE/ALTO file lies beside an image (an
        eScriptorium or Transkribus export); other pages start with no lines. Returns the
        indices of the new pages.

        A file that cannot be added (not an image, damaged, too large, unreadable ground truth)
        is skipped and listed in ``rejected`` with the reason, and the others are added; without
        ``rejected`` it raises, after keeping the pages added before it."""
        files: list[Path] = []
        for path in map(Path, paths):
            found = expand_folders([path], PAGE_SUFFIXES, recursive=False)
            if not found and path.is_dir():
                problem = Rejected(path, "no page images in this folder (PNG, JPEG, TIFF, PDF, WebP, BMP, JPEG 2000)")
                if rejected is None:
                    raise ProjectError(f"{problem.path}: {problem.reason}")
                rejected.append(problem)
            files += found
        added: list[int] = []
        try:
            for done, path in enumerate(files):
                if should_stop and should_stop():
                    break
                try:
                    imported = self._import_file(path, dpi, use_ground_truth)
                except (MsptError, OSError) as error:
                    if rejected is None:
                        raise
                    rejected.append(Rejected(path, _reason(error, path)))
                    imported = []
                for entry, page in imported:
                    self.entries.append(entry)
                    self._pages[entry.id] = page
                    self._dirty.add(entry.id)
                    added.append(len(self.entries) - 1)
                if on_progress:
                    on_progress(done + 1, len(files))
        finally:
            if added:
                self.save()
                self._notify(Change("pages"))
        return added

    def _import_file(self, path: Path, dpi: float, use_ground_truth: bool) -> list[tuple[PageEntry, Page]]:
        from mspt_core.formats import read_document
        from mspt_core.images import load_pages
        from mspt_core.layout import find_ground_truth

        images = load_pages(path, dpi=dpi)  # also validates the file (ImageLoadError)
        result = []
        for number, image in enumerate(images):
            page_id = f"{self._next_number():04d}"  # the pages saved above already count
            stem = page_stem(path, number, len(images))
            if len(images) == 1 and path.suffix.lower() in COPY_AS_IS and not _needs_rotation(path):
                image_name = f"{page_id}-{stem}{path.suffix.lower()}"
                shutil.copyfile(path, self.root / image_name)
            else:
                image_name = f"{page_id}-{stem}.png"
                image.save(self.root / image_name)
            xml_name = f"{XML_DIR}/{page_id}-{stem}.xml"
            gt = find_ground_truth(path) if len(images) == 1 and use_ground_truth else None
            if gt is not None:
                page = read_document(gt)
                protect_foreign_text(page)  # the person can still edit it
            else:
                page = Page(width=image.width, height=image.height)
            page.id = page_id
            page.image_path = self.root / image_name
            entry = PageEntry(page_id, image_name, xml_name, str(path))
            entry.corrected, entry.lines = count_progress(page)
            result.append((entry, page))
            del image
        return result

    # --- the model that reads it -------------------------------------------------------------

    def set_model(self, model: str) -> None:
        """Record the model that reads this project ("" for the default) in project.json."""
        if model == self.model:
            return
        self.model = model
        self._write_manifest()
        self._notify(Change("model"))

    def set_segmenter(self, segmenter: str) -> None:
        """Record the line finder of pages segmented from now on (one of SEGMENTERS) in
        project.json; pages already segmented keep their lines."""
        if segmenter not in SEGMENTERS:
            raise ValueError(f"line finder must be one of {', '.join(SEGMENTERS)}, got {segmenter!r}")
        if segmenter == self.segmenter:
            return
        self.segmenter = segmenter
        self._write_manifest()
        self._notify(Change("segmenter"))

    # --- changes and saving -----------------------------------------------------------------

    def _notify(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)

    def changed(self, page_id: str, kind: str = "lines", line_id: str | None = None) -> None:
        """Called by ``Editor`` after it changed a page: marks it for autosave, records the
        change in the journal (one line's text, or the whole page after a change to its lines),
        refreshes the page's cached progress and tells the views."""
        self._dirty.add(page_id)
        index = self.index_of(page_id)
        entry = self.entries[index]
        entry.corrected, entry.lines = count_progress(self.page(index))
        if kind == "text" and line_id is not None:
            line = find_line(self.page(index), line_id)
            if line is not None:
                self.journal.append(page_id, line.id, line.text, line.status.value)
        elif kind != "text":
            self._journal_page(index)
        self._notify(Change(kind, page_id, line_id))

    def _journal_page(self, index: int) -> None:
        from mspt_core.formats import to_bytes

        try:
            xml = to_bytes(self.page(index), self.xml_path(index), "page")
        except MsptError as error:  # the save will say so; the journal is a second net
            log.warning("cannot record page %d in the edit journal: %s", index + 1, error)
            return
        self.journal.append_page(self.entries[index].id, xml.decode("utf-8"))

    def save(self) -> list[Path]:
        """Write every changed page (atomically) and the manifest. Raises ProjectError naming
        the page that could not be written; the others are written regardless."""
        from mspt_core.formats import write_document

        written, failures = [], []
        for page_id in sorted(self._dirty):
            index = self.index_of(page_id)
            try:
                written.append(write_document(self.page(index), self.xml_path(index), "page"))
                self._dirty.discard(page_id)
            except (OSError, MsptError) as error:
                failures.append(f"page {index + 1} ({self.entries[index].xml}): {error}")
        self._write_manifest()
        if failures:
            raise ProjectError("could not save " + "; ".join(failures))
        self.journal.clear()
        return written

    def _write_manifest(self) -> None:
        from mspt_core.formats import atomic_write

        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "model": self.model,
            "segmenter": self.segmenter,
            "pages": [asdict(entry) for entry in self.entries],
        }
        try:
            atomic_write(self.root / PROJECT_FILE, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
        except OSError as error:
            raise ProjectError(f"{self.root / PROJECT_FILE}: cannot write ({error.strerror})") from error

    # --- the journal: edits survive a crash between autosaves ----------------------------------

    def _replay_journal(self) -> None:
        replayed = 0
        for record in self.journal.records():
            try:
                if "xml" in record:
                    changed = self._replay_page(record["page"], record["xml"])
                else:
                    changed = self._replay_text(record)
            except (KeyError, ValueError, MsptError):
                continue  # a page removed since, or a record from a newer mspt
            if changed:
                self._dirty.add(record["page"])
                replayed += 1
        for page_id in self._dirty:
            index = self.index_of(page_id)
            self.entries[index].corrected, self.entries[index].lines = count_progress(self.page(index))
        log.info("recovered %d line edits from the journal of %s", replayed, self.root)
        self.recovered_edits = replayed
        self.save()

    def _replay_text(self, record: dict) -> bool:
        page = self.page_by_id(record["page"])
        status = LineStatus(record.get("status", "corrected"))
        line = find_line(page, record["line"])
        # A confirmation ("mark corrected") changes only the status: replay it too.
        if line is None or (line.text == record["text"] and line.status == status):
            return False
        if line.text != record["text"]:
            line.char_confidences = None
        line.text = record["text"]
        line.status = status
        return True

    def _replay_page(self, page_id: str, xml: str) -> bool:
        """Put back a page recorded whole; True if its lines differ from those on disk."""
        from mspt_core.formats import pagexml
        from mspt_core.formats.xmlsafe import parse_bytes

        index = self.index_of(page_id)
        before = self.page(index)
        path = self.xml_path(index)
        page = pagexml.read(path, root=parse_bytes(xml.encode("utf-8"), path))
        page.image_path = self.image_path(index)
        page.id = page_id
        self._pages[page_id] = page
        return _outline(page) != _outline(before)

    # --- looking across the project ---------------------------------------------------------

    def least_confident_lines(self, limit: int | None = None) -> list[LinePlace]:
        """Recognized, not yet corrected lines of the whole project, least confident first:
        where a person's correction teaches the model most."""
        places = []
        for index in range(len(self)):
            for position, line in enumerate(self.page(index).lines()):
                if line.status == LineStatus.RECOGNIZED:
                    confidence = line.confidence if line.confidence is not None else 1.0
                    places.append(LinePlace(index, line.id, confidence, position))
        places.sort(key=lambda p: p.order)
        return places[:limit] if limit else places

    def export(
        self, indices: Iterable[int], fmt: str, folder: str | Path, notes: list[str] | None = None
    ) -> list[Path]:
        """Write the chosen pages in one format: page/alto give one file per page in
        ``folder/<fmt>/``; txt, hocr and pdf one file for all pages named after the project.
        What the format cannot keep is reported in ``notes`` (see ``mspt_core.formats``)."""
        from mspt_core.formats import EXTENSIONS, XML_FORMATS, write_document

        folder = Path(folder)
        indices = list(indices)
        pages = [self.page(i) for i in indices]
        if fmt in XML_FORMATS:
            return [
                write_document(page, folder / fmt / f"{Path(self.entries[i].xml).stem}.xml", fmt, notes)
                for i, page in zip(indices, pages, strict=True)
            ]
        path = folder / f"{_safe_name(self.name)}{EXTENSIONS[fmt]}"
        return [write_document(pages, path, fmt, notes, title=self.name if fmt == "pdf" else None)]


def _segmenter(value: object, manifest: Path) -> str:
    """The project's line finder from project.json: absent (a project made before line finders
    per project) is "auto"; a value that is not text is refused (ValueError) like a bad model; a
    name this mspt does not know (a newer one may know more) is read as "auto", with a warning."""
    if value is None:
        return "auto"
    if not isinstance(value, str):
        raise ValueError(f"segmenter is {value!r:.40}, not a line finder's name")
    if value not in SEGMENTERS:
        log.warning("%s: unknown line finder %r (known: %s); using auto", manifest, value[:40], ", ".join(SEGMENTERS))
        return "auto"
    return value


def _entry(item: object) -> PageEntry:
    """A page of project.json, its values checked (ValueError or TypeError naming the bad one)."""
    if not isinstance(item, dict):
        raise ValueError(f"a page is a {type(item).__name__}, not a JSON object")
    entry = PageEntry(**item)  # TypeError for a missing or unknown key
    for key in ("id", "image", "xml", "source"):
        if not isinstance(getattr(entry, key), str):
            raise ValueError(f"page {entry.id!r:.40}'s {key} is {getattr(entry, key)!r:.40}, not text")
    for key in ("lines", "corrected"):
        value = getattr(entry, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"page {entry.id!r:.40}'s {key} is {value!r:.40}, not a count")
    return entry


def _refuse_paths_outside(root: Path, entries: list[PageEntry], manifest: Path) -> None:
    """Every file project.json names must lie inside the project folder: a page's XML is
    written back on save, so "../elsewhere.xml", an absolute path or a link leading out would
    let a project file from someone else overwrite any file the person can write."""
    folder = root.resolve()
    for entry in entries:
        for kind, name in (("XML", entry.xml), ("image", entry.image)):
            target = (folder / name).resolve()
            if target == folder or not target.is_relative_to(folder):
                raise ProjectError(
                    f"{manifest}: page {entry.id}'s {kind} file {name!r} lies outside the "
                    "project folder; mspt opens only projects whose files are inside it"
                )


def _outline(page: Page) -> list[tuple]:
    """What a person sees of a page's lines: their order, texts, statuses and shapes."""
    return [(line.id, line.text, line.status, [(round(x), round(y)) for x, y in line.polygon]) for line in page.lines()]


def _reason(error: BaseException, path: Path) -> str:
    """Why ``path`` could not be added, without the file name the message starts with."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    text = str(error)
    for prefix in (f"cannot load image {path}: ", f"{path}: "):
        text = text.removeprefix(prefix)
    return text


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_ ." else "_" for c in name).strip(" .")
    return cleaned or "export"


def _needs_rotation(path: Path) -> bool:
    """True for a JPEG/PNG whose EXIF asks for rotation: it is stored rotated, so viewers agree."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.getexif().get(0x0112, 1) != 1
    except OSError:
        return True
