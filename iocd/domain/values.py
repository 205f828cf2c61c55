"""One pure normaliser per indicator type (SPEC section 2). No network access, ever.

Each normaliser takes the raw text and returns the canonical form used for storage and matching,
or raises InvalidValue naming the field and the reason. Every normaliser is idempotent:
normalise(t, normalise(t, v)) == normalise(t, v).
"""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
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
        raise _fail(f"{indicator_type.value} must be hexadecimal; found {bad!r}", _HASH_CODE)
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


def _ip_text(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Shortest standard text (RFC 5952); an IPv4-mapped IPv6 address keeps its dotted quad.

    Written out here rather than left to `str()`, whose output for mapped addresses changed in
    Python 3.13: a stored canonical value must not depend on the interpreter version.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _network_text(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return f"{_ip_text(network.network_address)}/{network.prefixlen}"


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
                f"{raw!r} has host bits set; the block is {_network_text(loose)}", _IP_CODE
            ) from None
        if network.prefixlen == network.max_prefixlen:
            return _ip_text(network.network_address)
        return _network_text(network)
    try:
        return _ip_text(ipaddress.ip_address(value))
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
    if not value.isascii():
        # UTS 46 mapping first, so that full-width dots, slashes and colons are seen as such.
        try:
            value = idna.uts46_remap(value, std3_rules=False, transitional=False)
        except idna.IDNAError as exc:
            raise _fail(
                f"{raw!r} is not a valid internationalised name ({exc})", _DOMAIN_CODE
            ) from None
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
            # Label by label: an ASCII label keeps the looser host-name rules checked below
            # ('_', '--' in third and fourth place), as it would in an all-ASCII name.
            value = ".".join(
                label if label.isascii() else idna.alabel(label).decode("ascii")
                for label in value.split(".")
            )
        except idna.IDNAError as exc:
            raise _fail(
                f"{raw!r} is not a valid internationalised name ({exc})", _DOMAIN_CODE
            ) from None
    value = value.lower()
    labels = value.split(".")
    if len(labels) < 2:
        raise _fail(f"{raw!r} needs at least two labels (like example.com)", _DOMAIN_CODE)
    for label in labels:
        _check_label(label, raw)
    if labels[-1].isdigit():
        raise _fail(
            f"{raw!r} looks like an IP address, not a domain (use type IpAddress)", _DOMAIN_CODE
        )
    if len(value) > 253:
        raise _fail(f"{raw!r} is longer than 253 characters", _DOMAIN_CODE)
    return value


# Script combinations that one label may legitimately mix (UTS 39 "highly restrictive").
_SCRIPT_SETS_ALLOWED = (
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
    frozenset({"Latin", "Han", "Hangul"}),
)
_SCRIPT_ALIASES = {"Cjk": "Han", "Ideographic": "Han", "Katakana-Hiragana": "Katakana"}


def _script(char: str) -> str | None:
    """The script of a letter, from its Unicode name; None for digits, hyphens and marks."""
    if not unicodedata.category(char).startswith("L"):
        return None
    name = unicodedata.name(char, "")
    word = name.split(" ", 1)[0].title()
    if not word or word == "Modifier":
        return None
    return _SCRIPT_ALIASES.get(word, word)


def homograph_notice(canonical_domain_or_url_host: str) -> str | None:
    """Explain a punycode name whose labels mix scripts (a possible IDN homograph), else None.

    Such a name is a valid indicator and is accepted; this only says what a person would see.
    Digits, hyphens and combining marks belong to no script.
    """
    host = canonical_domain_or_url_host.strip().rstrip(".").lower()
    shown: list[str] = []
    counts: dict[str, int] = {}
    for label in host.split("."):
        text = label
        if label.startswith("xn--"):
            try:
                text = label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                text = label
        shown.append(text)
        scripts = [s for s in map(_script, text) if s is not None]
        distinct = set(scripts)
        if len(distinct) > 1 and not any(distinct <= ok for ok in _SCRIPT_SETS_ALLOWED):
            for script in scripts:
                counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    names = sorted(counts, key=lambda s: (-counts[s], s))
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"{host} displays as {'.'.join(shown)!r} and mixes {listed} scripts (possible homograph)"


_URL_CODE = "InvalidUrl"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# Characters left as they are in a path or query (RFC 3986 pchar, plus '/' and '?').
_KEEP = _UNRESERVED | frozenset("!$&'()*+,;=:@/?")


_PLAIN = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*")
"""A path or query made only of characters `_KEEP` leaves as they are: nothing to normalise."""
_SPACE = re.compile(r"\s")
"""Any white space (the same characters as `str.isspace`)."""


def _normalise_escapes(text: str) -> str:
    """Decode escapes of unreserved characters, upper-case the rest, escape what must be."""
    if _PLAIN.fullmatch(text):
        return text  # the common case: no escape, nothing to escape
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
        if "%" in host:
            raise _fail(f"{raw!r}: IPv6 zone identifiers are not accepted", _URL_CODE)
        try:
            return f"[{_ip_text(ipaddress.IPv6Address(host[1:-1]))}]"
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
    if _SPACE.search(value):
        raise _fail(f"{raw!r} contains white space", _URL_CODE)
    head = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):(//)?", value)
    if head and not head.group(2) and re.match(r"[0-9]*(?:[/?#]|$)", value[head.end() :]):
        head = None  # `host:port`, not a scheme
    if head:
        scheme = head.group(1).lower()
        rest = value[head.end() :]
        if scheme not in _DEFAULT_PORTS:
            raise _fail(f"{raw!r}: scheme {scheme!r} is not supported (http or https)", _URL_CODE)
        if not head.group(2):
            raise _fail(f"{raw!r}: '{scheme}:' must be followed by '//'", _URL_CODE)
    else:
        scheme, rest = "http", value
    rest = rest.split("#", 1)[0]
    split_at = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:split_at], rest[split_at:]
    path, _, query = tail.partition("?")
    if "\\" in authority:
        # Browsers read '\' as '/' in http(s) URLs, so the host would not be what it seems.
        raise _fail(f"{raw!r} has a backslash before its path", _URL_CODE)
    authority = authority.rsplit("@", 1)[-1]
    if not authority:
        raise _fail(f"{raw!r} has no host", _URL_CODE)
    host, port = authority, ""
    port_match = re.fullmatch(r"(.*?):([0-9]*)", authority)
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


_THUMBPRINT_PAIRS = re.compile(r"[0-9A-Fa-f]{2}([: ])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){18}")
_CIDR_LIKE = re.compile(r"\[?[0-9A-Fa-f:.]+\]?/[0-9]+")
_IPV6_LIKE = re.compile(r"\[?[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:%[^/]*)?\]?")


def detect_type(raw: str) -> IndicatorType:
    """Guess the type of a bare value from a plain list.

    Hex by length (40 digits is FileSha1), a thumbprint written in byte pairs, an IP address or
    anything shaped like one (so that its error speaks of addresses), a URL when there is a
    scheme, path, query or port, else a domain.
    """
    value = raw.strip()
    if value and all(c in _HEX for c in value) and len(value) in _HASH_BY_LENGTH:
        return _HASH_BY_LENGTH[len(value)]
    if _THUMBPRINT_PAIRS.fullmatch(value):
        return IndicatorType.CERTIFICATE_THUMBPRINT
    if _CIDR_LIKE.fullmatch(value) or _IPV6_LIKE.fullmatch(value):
        return IndicatorType.IP_ADDRESS
    try:
        normalise_ip(value)
        return IndicatorType.IP_ADDRESS
    except InvalidValue:
        pass
    if any(mark in value for mark in ("/", "?", ":")):
        return IndicatorType.URL
    return IndicatorType.DOMAIN_NAME
