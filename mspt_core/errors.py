"""Error types a user may see. The CLI prints ``str(error)`` on one line and exits non-zero;
the app shows it in a dialog. Each message names the file and the reason."""


class MsptError(Exception):
    """Base of every error caused by bad input rather than a bug."""


class ImageLoadError(MsptError):
    """A page or line image cannot be read (corrupt, truncated, unsupported, too large)."""


class FormatError(MsptError):
    """A PAGE/ALTO/other document file is malformed, unsafe or unsupported."""


class ModelFileError(MsptError):
    """A model file is missing, unsafe (e.g. a pickle) or inconsistent."""


class OutputError(MsptError):
    """An output file or folder cannot be written (a file where a folder is wanted, no permission)."""


class DataError(MsptError):
    """Training or evaluation data is missing or unusable."""


class InUseError(MsptError):
    """Another process (another mspt window) is working on it: nothing is wrong with the input."""
