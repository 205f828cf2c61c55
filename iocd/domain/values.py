"""One pure normaliser per indicator type (SPEC section 2). No network access, ever.

Each normaliser takes the raw text and returns the canonical form used for storage and matching,
or raises InvalidValue naming the field and the reason. Every normaliser is idempotent:
normalise(t, normalise(t, v)) == normalise(t, v).
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable

import idna

from iocd.domain.types import IndicatorType
from iocd.errors import InvalidValue

FIELD = "indicatorValue"
_HEX = frozenset(string.hexdigits)
_HASH_LENGTHS = {
    IndicatorType.FILE_MD5: 32,
    IndicatorType.FILE_SHA1: 40,
    IndicatorType.FILE_SHA256: 64,
    IndicatorType.CERTIFICATE_THUMBPRINT: 40,
}
_HASH_CODE = "InvalidHashValue"


def _fail(reason: str, code: str = "InvalidInput") -> InvalidValue:
    return InvalidValue(FIELD, reason, code)


def _hex_digest(indicator_type: IndicatorType, raw: str) -> str:
    value = raw.strip()
    want = _HASH_LENGTHS[indicator_type]
    if not value:
        raise _fail(f"empty {indicator_type.value}", _HASH_CODE)
    bad = next((c for c in value if c not in _HEX), None)
    if bad is not None:
        raise _fail(
            f"{indicator_type.value} must be hexadecimal; found {bad!r}", _HASH_CODE
        )
    if len(value) != want:
        raise _fail(
            f"{indicator_type.value} must be {want} hex characters, got {len(value)}",
            _HASH_CODE,
        )
    return value.lower()


def normalise_md5(raw: str) -> str:
    return _hex_digest(IndicatorType.FILE_MD5, raw)


def normalise_sha1(raw: str) -> str:
    return _hex_digest(IndicatorType.FILE_SHA1, raw)


def normalise_sha256(raw: str) -> str:
    return _hex_digest(IndicatorType.FILE_SHA256, raw)


def normalise_thumbprint(raw: str) -> str:
    """A certificate's SHA-1 thumbprint; byte-pair separators (`:` or spaces) are accepted."""
    value = raw.strip()
    if re.fullmatch(r"[0-9A-Fa-f]{2}([: ][0-9A-Fa-f]{2}){19}", value):
        value = value.replace(":", "").replace(" ", "")
    return _hex_digest(IndicatorType.CERTIFICATE_THUMBPRINT, value)


_IP_CODE = "InvalidIpAddress"


def normalise_ip(raw: str) -> str:
    """IPv4/IPv6 address or CIDR block; shortest standard form; a full-length prefix is bare."""
    value = raw.strip()
    if not value:
        raise _fail("empty IP address", _IP_CODE)
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    if "%" in value:
        raise _fail(f"{raw!r}: IPv6 zone identifiers are not accepted", _IP_CODE)
    if "/" in value:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            try:
                loose = ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise _fail(
                    f"{raw!r} is not a valid IP address or CIDR block ({exc})", _IP_CODE
                ) from None
            raise _fail(
                f"{raw!r} has host bits set; the block is {loose.with_prefixlen}", _IP_CODE
            ) from None
        if network.prefixlen == network.max_prefixlen:
            return str(network.network_address)
        return network.with_prefixlen
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _fail(f"{raw!r} is not a valid IPv4 or IPv6 address", _IP_CODE) from None


_DOMAIN_CODE = "InvalidDomainName"
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def _check_label(label: str, raw: str) -> None:
    if not label:
        raise _fail(f"{raw!r} has an empty label", _DOMAIN_CODE)
    if len(label) > 63:
        raise _fail(f"{raw!r}: label {label[:20]!r}... is longer than 63 characters", _DOMAIN_CODE)
    if not _ASCII_LABEL.fullmatch(label):
        raise _fail(
            f"{raw!r}: label {label!r} may hold only letters, digits, '-' and '_', "
            "and may not start or end with '-'",
            _DOMAIN_CODE,
        )
    if label.startswith("xn--"):
        try:
            idna.decode(label)
        except idna.IDNAError as exc:
            raise _fail(
                f"{raw!r}: label {label!r} is not valid punycode (IDNA: {exc})", _DOMAIN_CODE
            ) from None


def normalise_domain(raw: str) -> str:
    """Lower-case IDNA (punycode) form without trailing dot; at least two labels."""
    value = raw.strip()
    if not value:
        raise _fail("empty domain name", _DOMAIN_CODE)
    if "://" in value or "/" in value:
        raise _fail(
            f"{raw!r} has a scheme or path; a domain is a host name only (use type Url)",
            _DOMAIN_CODE,
        )
    if ":" in value:
        raise _fail(f"{raw!r} has a port; a domain is a host name only", _DOMAIN_CODE)
    if value.endswith("."):
        value = value[:-1]
    if not value.isascii():
        try:
            value = idna.encode(value, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise _fail(f"{raw!r} is not a valid internationalised name ({exc})", _DOMAIN_CODE)
    value = value.lower()
    labels = value.split(".")
    if len(labels) < 2:
        raise _fail(f"{raw!r} needs at least two labels (like example.com)", _DOMAIN_CODE)
    for label in labels:
        _check_label(label, raw)
    if labels[-1].isdigit():
        raise _fail(f"{raw!r} looks like an IP address, not a domain (use type IpAddress)", _DOMAIN_CODE)
    if len(value) > 253:
        raise _fail(f"{raw!r} is longer than 253 characters", _DOMAIN_CODE)
    return value


_URL_CODE = "InvalidUrl"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# Characters left as they are in a path or query (RFC 3986 pchar, plus '/' and '?').
_KEEP = _UNRESERVED | frozenset("!$&'()*+,;=:@/?")


def _normalise_escapes(text: str) -> str:
    """Decode escapes of unreserved characters, upper-case the rest, escape what must be."""
    out: list[str] = []
    data = text.encode("utf-8")
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x25 and _is_hex_pair(data[i + 1 : i + 3]):
            decoded = int(data[i + 1 : i + 3], 16)
            char = chr(decoded)
            out.append(char if char in _UNRESERVED else f"%{decoded:02X}")
            i += 3
            continue
        char = chr(byte)
        out.append(char if byte < 0x80 and char in _KEEP else f"%{byte:02X}")
        i += 1
    return "".join(out)


def _is_hex_pair(pair: bytes) -> bool:
    return len(pair) == 2 and all(chr(b) in _HEX for b in pair)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
            continue
        output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _url_host(host: str, raw: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise _fail(f"{raw!r} has an unterminated IPv6 literal", _URL_CODE)
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1])}]"
        except ValueError:
            raise _fail(f"{raw!r} has an invalid IPv6 literal", _URL_CODE) from None
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        return normalise_domain(host)
    except InvalidValue as exc:
        raise _fail(f"{raw!r} has an invalid host: {exc.reason}", _URL_CODE) from None


def normalise_url(raw: str) -> str:
    """http(s) URL: canonical host, default port dropped, escapes normalised, no fragment."""
    value = raw.strip()
    if not value:
        raise _fail("empty URL", _URL_CODE)
    if any(c in value for c in "\t\r\n "):
        raise _fail(f"{raw!r} contains white space", _URL_CODE)
    scheme_match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", value)
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        rest = value[scheme_match.end() :]
        if scheme not in _DEFAULT_PORTS:
            raise _fail(f"{raw!r}: scheme {scheme!r} is not supported (http or https)", _URL_CODE)
    else:
        scheme, rest = "http", value
    rest = rest.split("#", 1)[0]
    split_at = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:split_at], rest[split_at:]
    path, _, query = tail.partition("?")
    authority = authority.rsplit("@", 1)[-1]
    if not authority:
        raise _fail(f"{raw!r} has no host", _URL_CODE)
    host, port = authority, ""
    port_match = re.fullmatch(r"(.*?):(\d*)", authority)
    if port_match and not authority.endswith("]"):
        host, port = port_match.group(1), port_match.group(2)
    if not host:
        raise _fail(f"{raw!r} has no host", _URL_CODE)
    canonical_host = _url_host(host, raw)
    port_text = ""
    if port:
        number = int(port)
        if not 0 < number < 65536:
            raise _fail(f"{raw!r}: port {port} is out of range", _URL_CODE)
        if number != _DEFAULT_PORTS[scheme]:
            port_text = f":{number}"
    canonical_path = _remove_dot_segments(_normalise_escapes(path or "/"))
    canonical_query = _normalise_escapes(query)
    result = f"{scheme}://{canonical_host}{port_text}{canonical_path}"
    return f"{result}?{canonical_query}" if canonical_query else result


NORMALISERS: dict[IndicatorType, Callable[[str], str]] = {
    IndicatorType.FILE_MD5: normalise_md5,
    IndicatorType.FILE_SHA1: normalise_sha1,
    IndicatorType.FILE_SHA256: normalise_sha256,
    IndicatorType.CERTIFICATE_THUMBPRINT: normalise_thumbprint,
    IndicatorType.IP_ADDRESS: normalise_ip,
    IndicatorType.DOMAIN_NAME: normalise_domain,
    IndicatorType.URL: normalise_url,
}


def normalise(indicator_type: IndicatorType, raw: str) -> str:
    """The canonical value of `raw` read as `indicator_type` (SPEC section 2)."""
    return NORMALISERS[indicator_type](raw)


_HASH_BY_LENGTH = {
    32: IndicatorType.FILE_MD5,
    40: IndicatorType.FILE_SHA1,
    64: IndicatorType.FILE_SHA256,
}


def detect_type(raw: str) -> IndicatorType:
    """Guess the type of a bare value from a plain list (hash by length, IP, URL, else domain)."""
    value = raw.strip()
    if value and all(c in _HEX for c in value) and len(value) in _HASH_BY_LENGTH:
        return _HASH_BY_LENGTH[len(value)]
    try:
        normalise_ip(value)
        return IndicatorType.IP_ADDRESS
    except InvalidValue:
        pass
    if "://" in value or "/" in value or "?" in value:
        return IndicatorType.URL
    return IndicatorType.DOMAIN_NAME
