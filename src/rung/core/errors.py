"""Domain errors; the rpc layer maps each class to one gRPC status code."""


class RungError(Exception):
    """Base of every error rung reports to a caller."""


class InvalidArgument(RungError):
    """The request itself is malformed (bad type, range, NaN metric, ...)."""


class NotFound(RungError):
    """An id names no study, trial or lease."""


class AlreadyExists(RungError):
    """A study with that name exists with a different definition."""


class FailedPrecondition(RungError):
    """The request is well formed but not valid in the current state (e.g. expired lease)."""


class NotActive(RungError):
    """This server is a standby (or was fenced off): the call belongs to the active one."""


class StorageUnavailable(RungError):
    """The journal cannot be written or read now (its database restarts or is cut off, a
    disk is full, a privilege was revoked): the call may be retried, here or on the
    server that takes over, once the cause is gone."""
