"""Names shown for types, and who may see the forms that write."""

from __future__ import annotations

from iocd.domain.principal import Principal, Role
from iocd.domain.types import IndicatorType

TYPE_LABELS = {
    IndicatorType.FILE_SHA256: "File SHA-256",
    IndicatorType.FILE_SHA1: "File SHA-1",
    IndicatorType.FILE_MD5: "File MD5",
    IndicatorType.CERTIFICATE_THUMBPRINT: "Certificate",
    IndicatorType.IP_ADDRESS: "IP address",
    IndicatorType.DOMAIN_NAME: "Domain",
    IndicatorType.URL: "URL",
}


def can_write(user: Principal) -> bool:
    """Read-only users see no buttons that write (the services refuse them anyway)."""
    return user.role is not Role.READ_ONLY
