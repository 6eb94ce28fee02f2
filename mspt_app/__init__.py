"""The mspt desktop application: PySide6 views and workers over ``mspt_core``.

``project`` (the folder on disk), ``edits`` (undoable changes) and ``geometry`` are pure
Python; ``widgets`` are thin views over them and ``workers`` run core jobs off the GUI thread.
"""
