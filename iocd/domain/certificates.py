"""Certificate thumbprints from certificate files (.cer DER or .pem). Pure: bytes in, hex out."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from iocd.errors import InvalidValue


def thumbprint_of_certificate(data: bytes) -> str:
    """The SHA-1 thumbprint of the first (leaf) certificate in a DER or PEM file."""
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            certificate = x509.load_pem_x509_certificates(data)[0]
        else:
            certificate = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise InvalidValue(
            "indicatorValue", f"not a DER (.cer) or PEM certificate ({exc})"
        ) from None
    return certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - the thumbprint is SHA-1 by definition
