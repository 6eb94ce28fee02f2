"""The sample project `make app` opens: the bundled sample page, its lines found but not yet
read, so a first-time user can press Recognize and start correcting."""

from __future__ import annotations

import logging
from pathlib import Path

from mspt_core import resources
from mspt_core.document import LineStatus
from mspt_core.models import user_data_dir
from mspt_core.project.folder import PROJECT_FILE, Project

log = logging.getLogger(__name__)

SAMPLE_IMAGE = resources.sample_page()


def projects_dir() -> Path:
    """Where new projects are suggested and the sample project lives: the user data folder's
    ``projects``."""
    return user_data_dir() / "projects"


def sample_project(folder: Path | None = None) -> Path | None:
    """The sample project's folder, created on first use; None when no sample page is bundled."""
    folder = Path(folder) if folder else projects_dir() / "sample"
    if (folder / PROJECT_FILE).is_file():
        return folder
    if not SAMPLE_IMAGE.is_file():
        log.warning("no sample page at %s", SAMPLE_IMAGE)
        return None
    project = Project.create(folder, "Sample")
    project.add_files([SAMPLE_IMAGE], use_ground_truth=False)
    truth = SAMPLE_IMAGE.with_suffix(".xml")
    if truth.is_file():  # take the known lines, leave the reading to the model
        from mspt_core.formats import read_document

        found = read_document(truth)
        page = project.page(0)
        page.regions = found.regions
        for line in page.lines():
            line.text, line.confidence, line.char_confidences = "", None, None
            line.status = LineStatus.UNRECOGNIZED
            line.words = []
        project.changed(page.id)
    project.close()
    return folder
