"""The one error hierarchy of part3d.

Every error carries a one-line message that names the problem and the input it is about
(file, mesh, face id, field), and the Tencent Cloud API error code it maps to when a job
fails because of it.
"""

from __future__ import annotations


class Part3DError(Exception):
    """Base class: a problem a user can act on, described in one line."""

    #: Tencent Cloud API 3.0 error code reported for a job that fails with this error.
    code = "InternalError"

    def __init__(self, message: str) -> None:
        # Keep messages to one line whatever the caller passed in.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


class InputError(Part3DError):
    """The input model cannot be used: missing, unreadable, corrupt or of the wrong kind."""

    code = "InvalidParameterValue"


class UnsupportedFormatError(InputError):
    """The file's format (by extension or content) is not one part3d reads or writes."""


class UnsupportedVersionError(InputError):
    """An FBX version part3d does not read."""


class CorruptFileError(InputError):
    """The file is damaged or malformed: truncated, bad structure, bad compression, bad values."""


class EmptySceneError(InputError):
    """The file holds no mesh, or no polygon to work on."""


class LimitExceededError(InputError):
    """The input is over a configured limit (file size, face count)."""


class SegmentationInfoError(InputError):
    """A given PartSegmentationInfo cannot be used: malformed, or face ids that do not fit the
    model (out of range, listed twice)."""
