"""The sample project: made once from the bundled sample page."""

from __future__ import annotations

from mspt_core.project import Project


def test_sample_project_is_made_once(tmp_path, monkeypatch, fondue_page):
    import mspt_core.project.sample as sample

    monkeypatch.setattr(sample, "SAMPLE_IMAGE", fondue_page)
    folder = sample.sample_project(tmp_path / "sample")
    project = Project.open(folder)
    assert len(project) == 1 and project.entries[0].source == str(fondue_page)
    project.close()
    assert sample.sample_project(tmp_path / "sample") == folder
