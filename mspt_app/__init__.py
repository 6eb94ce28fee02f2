"""The mspt desktop application: PySide6 views and workers over ``mspt_core``.

The project itself (the folder on disk, undoable edits, line geometry) is ``mspt_core.project``;
``widgets`` are thin views over it and ``workers`` run core jobs off the GUI thread.
"""
