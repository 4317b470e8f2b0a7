"""Domain strings that must not be mixed up, as distinct types for mypy."""

from typing import NewType

NodeId = NewType("NodeId", str)
SessionId = NewType("SessionId", str)
PeerId = NewType("PeerId", str)
PhoneId = NewType("PhoneId", str)
DeviceId = NewType("DeviceId", str)
JobId = NewType("JobId", str)
