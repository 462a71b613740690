"""One exception hierarchy, so every face can turn a user error into one clear line.

`PixseekError` and its subclasses are expected failures with a message written for the person
(what went wrong and what to do, in words that fit every face: no command names or flags).
Each face adds its own how-to by the error's class: the CLI a command or flag, the desktop app
a button. Anything else escaping the engine is a bug.
"""


class PixseekError(Exception):
    """An expected failure; str(error) is a complete one-line message for the user."""


class FolderNotFound(PixseekError):
    pass


class FolderNotIndexed(PixseekError):
    """A folder named to search within or to remove that the index does not hold."""


class PhotoNotIndexed(PixseekError):
    """A file asked for (a thumbnail, a download) that the index does not hold."""


class OutsideFolders(PixseekError):
    """A path that leads (through a link, or `..`) outside the folders it must stay in."""


class HoldsIndexedFolders(FolderNotIndexed):
    """A folder that is not indexed itself but holds indexed ones (`inside`: those)."""

    def __init__(self, message: str, inside: list[str]):
        super().__init__(message)
        self.inside = inside


class IndexNotFound(PixseekError):
    """No index yet where one was asked for: indexing a folder makes one."""


class IndexLocked(PixseekError):
    pass


class IndexIncompatible(PixseekError):
    """The index was written by another schema version or with another model; `model` names the
    model that was asked for, when that is the reason (a face can offer to rebuild for it)."""

    def __init__(self, message: str, model: str | None = None):
        super().__init__(message)
        self.model = model


class IndexCorrupt(PixseekError):
    """A damaged file of the index; `reason` says what is wrong in a few words."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


class StorageError(PixseekError):
    """The index's files cannot be written or read: a full disk, a read-only folder, an I/O error."""


class ModelNotInstalled(PixseekError):
    pass


class ModelInvalid(PixseekError):
    pass


class QueryError(PixseekError):
    """A malformed query, or one that cannot be run (an image that cannot be used, ...)."""


class EmptyQuery(QueryError):
    """Nothing to search for: no words and no example image."""


class UploadTooLarge(QueryError):
    """An uploaded query photo over the size limit."""


class UnusableUpload(QueryError):
    """An uploaded query photo that is not an image we can decode."""


class ImageError(PixseekError):
    """An image that cannot be used; `reason` is a short category (corrupt, truncated, ...)."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ClusterError(PixseekError):
    """The cluster cannot be reached, or the job on it failed (what was ingested is kept)."""


class ShardRefused(PixseekError):
    """A cluster shard that cannot be ingested: damaged, or made with another model or preprocessing."""
