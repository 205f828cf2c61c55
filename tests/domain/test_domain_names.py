"""Canonical domain names and URLs (SPEC section 2), the homograph notice, and their detection."""

from __future__ import annotations

import re

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.domain.types import IndicatorType
from iocd.domain.values import detect_type, homograph_notice, normalise
from iocd.errors import InvalidValue

DOMAIN = IndicatorType.DOMAIN_NAME
URL = IndicatorType.URL
FAST = settings(max_examples=80, deadline=None)


def rejected(indicator_type: IndicatorType, raw: str) -> InvalidValue:
    with pytest.raises(InvalidValue) as info:
        normalise(indicator_type, raw)
    error = info.value
    assert error.field == "indicatorValue"
    assert error.reason.strip()
    return error


# --- strategies ------------------------------------------------------------------------------

ASCII_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True).filter(
    lambda label: not label.startswith("xn--")
)
TLD = st.from_regex(r"[a-z]{2,8}", fullmatch=True)
# Lower- and upper-case letters that IDNA 2008 accepts in a left-to-right label (UTS 46 maps the
# capitals), from several scripts.
UNICODE_LETTERS = "abcxyz09äöüéèçñøåßÄÖÜÉπλσωжяшёЖЯ中文日本語한국"
UNICODE_LABEL = st.text(alphabet=UNICODE_LETTERS, min_size=1, max_size=10)


@st.composite
def random_case(draw: st.DrawFn, text: str) -> str:
    flags = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if up else c for c, up in zip(text, flags, strict=True))


@st.composite
def ascii_domains(draw: st.DrawFn) -> tuple[str, str]:
    """(raw in random case, maybe with a trailing dot and white space; expected canonical)."""
    labels = [*draw(st.lists(ASCII_LABEL, min_size=1, max_size=4)), draw(TLD)]
    name = ".".join(labels)
    raw = draw(random_case(name)) + draw(st.sampled_from(["", "."]))
    return draw(st.sampled_from(["", " ", "\t"])) + raw + draw(
        st.sampled_from(["", " ", "\n"])
    ), name


@st.composite
def unicode_domains(draw: st.DrawFn) -> tuple[str, str]:
    """(raw with at least one non-ASCII label, expected punycode form)."""
    labels = draw(st.lists(st.one_of(ASCII_LABEL, UNICODE_LABEL), min_size=1, max_size=3))
    labels.append(draw(st.one_of(TLD, UNICODE_LABEL.filter(lambda t: not t.isdigit()))))
    name = ".".join(labels)
    if name.isascii():
        name = "bücher." + name
    expected = ".".join(
        label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
        for label in name.split(".")
    )
    return name + draw(st.sampled_from(["", "."])), expected


HOSTS = st.one_of(
    ascii_domains().map(lambda case: (case[0].strip(), case[1])),
    unicode_domains(),
    st.ip_addresses(v=4).map(lambda a: (str(a), str(a))),
    st.ip_addresses(v=6).map(
        lambda a: (f"[{a.exploded}]", f"[{normalise(IndicatorType.IP_ADDRESS, str(a))}]")
    ),
)
PATH_PIECES = st.sampled_from(
    [
        "a",
        "B",
        "x-y",
        "%7e",
        "%7E",
        "~",
        "%2f",
        "%2F",
        "%41",
        "%c3%a9",
        "é",
        "%20",
        "+",
        "=",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        "",
        ";v=1",
        "@",
        ":",
        "%",
        "%zz",
        "<",
        "|",
    ]
)
QUERY_PIECES = st.sampled_from(
    ["q=1", "a=b+c", "x=%20", "y=%2b", "z=%7E", "e=é", "k", "", "u=http://x.example/", "%3d", "?"]
)


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(raw URL, expected scheme, expected canonical host, expected port text)."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https", ""]))
    raw_host, host = draw(HOSTS)
    canonical_scheme = scheme.lower() or "http"
    port = draw(st.one_of(st.none(), st.sampled_from([80, 443]), st.integers(1, 65535)))
    default = {"http": 80, "https": 443}[canonical_scheme]
    port_text = "" if port is None or port == default else f":{port}"
    path = "/".join(draw(st.lists(PATH_PIECES, max_size=5)))
    query = "&".join(draw(st.lists(QUERY_PIECES, max_size=3)))
    fragment = draw(st.sampled_from(["", "#", "#frag", "#a/../b?c"]))
    raw = f"{scheme}://" if scheme else ""
    raw += draw(random_case(raw_host)) if raw_host.isascii() else raw_host
    raw += "" if port is None else f":{port}"
    raw += f"/{path}" if path or draw(st.booleans()) else ""
    raw += f"?{query}" if query or draw(st.booleans()) else ""
    return raw + fragment, canonical_scheme, host, port_text


# --- domain names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        (" www.Example.com \n", "www.example.com"),
        ("Bücher.Example.", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("bücher.example。", "xn--bcher-kva.example"),
        ("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com"),
        ("straße.de", "xn--strae-oqa.de"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("_dmarc.Bücher.example", "_dmarc.xn--bcher-kva.example"),
        ("r3---sn-abc.example.com", "r3---sn-abc.example.com"),
        ("r3---sn-abc.bücher.example", "r3---sn-abc.xn--bcher-kva.example"),
        ("a-b.c-d.example", "a-b.c-d.example"),
        ("bad\u200bchar.com", "badchar.com"),  # UTS 46 drops the zero-width space
        ("xn--pple-43d.com", "xn--pple-43d.com"),
        ("аpple.com", "xn--pple-43d.com"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ],
)
def test_domain_canonical_forms(raw: str, canonical: str) -> None:
    assert normalise(DOMAIN, raw) == canonical


@FAST
@given(ascii_domains())
def test_ascii_domain_is_lower_cased_without_trailing_dot(case: tuple[str, str]) -> None:
    raw, expected = case
    canonical = normalise(DOMAIN, raw)
    assert canonical == expected
    assert normalise(DOMAIN, canonical) == canonical


@FAST
@given(unicode_domains())
def test_unicode_domain_is_stored_as_punycode(case: tuple[str, str]) -> None:
    raw, expected = case
    canonical = normalise(DOMAIN, raw)
    assert canonical == expected
    assert canonical.isascii()
    assert canonical == canonical.lower()
    assert normalise(DOMAIN, canonical) == canonical
    # Capitals map back through UTS 46 (but 'ß'.upper() is 'SS', another name).
    capitals = "".join(c.upper() if len(c.upper()) == 1 else c for c in raw)
    assert normalise(DOMAIN, capitals) == canonical


@FAST
@given(ASCII_LABEL, st.sampled_from(["", "."]))
def test_domain_with_one_label_is_rejected(label: str, dot: str) -> None:
    error = rejected(DOMAIN, label + dot)
    assert error.code == "InvalidDomainName"
    assert "at least two labels" in error.reason


@FAST
@given(
    st.lists(ASCII_LABEL, min_size=1, max_size=3),
    st.sampled_from("!#$%^&*()+=[]{}|;'\",<>?`~\\"),
    st.data(),
)
def test_domain_with_a_bad_character_is_rejected(
    labels: list[str], bad: str, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(labels) - 1))
    at = data.draw(st.integers(0, len(labels[index])))
    labels[index] = labels[index][:at] + bad + labels[index][at:]
    error = rejected(DOMAIN, ".".join([*labels, "com"]))
    assert "may hold only letters, digits" in error.reason


@FAST
@given(st.integers(64, 100))
def test_domain_label_over_63_characters(length: int) -> None:
    error = rejected(DOMAIN, "a" * length + ".example")
    assert "longer than 63" in error.reason


@FAST
@given(
    st.lists(st.integers(1, 63), min_size=4, max_size=12).filter(lambda s: sum(s) + len(s) > 257)
)
def test_domain_name_over_253_characters(sizes: list[int]) -> None:
    name = ".".join("a" * size for size in sizes) + ".com"
    assert len(name) > 253
    error = rejected(DOMAIN, name)
    assert "longer than 253" in error.reason


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", ["empty"]),
        ("http://example.com", ["scheme"]),
        ("example.com/path", ["path"]),
        ("example.com:8080", ["port"]),
        ("example..com", ["empty label"]),
        ("example.com..", ["empty label"]),
        (".example.com", ["empty label"]),
        ("-example.com", ["may not start or end with '-'"]),
        ("example-.com", ["may not start or end with '-'"]),
        ("1.2.3.4", ["IP address"]),
        ("example.123", ["IP address"]),
        ("xn--zz.com", ["punycode"]),
        ("xn--a.com", ["punycode"]),
        ("bücher", ["at least two labels"]),
        ("exa mple.com", ["may hold only"]),
        ("snow☃man.com", ["internationalised", "U+2603"]),
        ("a\u200db.com", ["internationalised", "Joiner"]),
    ],
)
def test_domain_rejections(raw: str, words: list[str]) -> None:
    error = rejected(DOMAIN, raw)
    assert error.code == "InvalidDomainName"
    for word in words:
        assert word in error.reason


@FAST
@given(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True))
def test_invalid_punycode_is_rejected(tail: str) -> None:
    label = "xn--" + tail
    try:
        idna.decode(label)
    except idna.IDNAError:
        assert "not valid punycode" in rejected(DOMAIN, f"{label}.com").reason
    else:
        assert normalise(DOMAIN, f"{label}.com") == f"{label}.com"


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTP://Example.COM:80/a/./b/../c?q=1#frag", "http://example.com/a/c?q=1"),
        ("example.com/path", "http://example.com/path"),
        ("example.com", "http://example.com/"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:80/", "https://example.com:80/"),
        ("http://example.com:443/", "http://example.com:443/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("http://example.com/%7e", "http://example.com/~"),
        ("http://example.com/%7Euser/%41", "http://example.com/~user/A"),
        ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
        ("http://example.com/a%2Fb", "http://example.com/a%2Fb"),
        ("http://example.com/x?q=a+b&r=a%20b&s=%2b", "http://example.com/x?q=a+b&r=a%20b&s=%2B"),
        ("http://example.com/é", "http://example.com/%C3%A9"),
        ("http://example.com/%c3%a9", "http://example.com/%C3%A9"),
        ("http://example.com/100%", "http://example.com/100%25"),
        ("http://example.com/%2e%2E/a", "http://example.com/a"),
        ("http://example.com/a/b/..", "http://example.com/a/"),
        ("http://example.com/../../a", "http://example.com/a"),
        ("http://example.com/?", "http://example.com/"),
        ("http://example.com?q", "http://example.com/?q"),
        ("http://example.com/#x", "http://example.com/"),
        ("example.com:8080/x", "http://example.com:8080/x"),
        ("example.com:80", "http://example.com/"),
        ("user@example.com/x", "http://example.com/x"),
        ("ｅｘａｍｐｌｅ．ｃｏｍ/x", "http://example.com/x"),
        ("http://user:secret@example.com/", "http://example.com/"),
        ("http://Bücher.Example./x", "http://xn--bcher-kva.example/x"),
        ("http://1.2.3.4:8080/x", "http://1.2.3.4:8080/x"),
        ("http://[2001:0DB8::1]:443/", "http://[2001:db8::1]:443/"),
        ("https://[::FFFF:1.2.3.4]/", "https://[::ffff:1.2.3.4]/"),
    ],
)
def test_url_canonical_forms(raw: str, canonical: str) -> None:
    assert normalise(URL, raw) == canonical


ESCAPE = re.compile(r"%(..)")
UNRESERVED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


@settings(max_examples=250, deadline=None)
@given(urls())
def test_url_is_canonical_and_idempotent(case: tuple[str, str, str, str]) -> None:
    raw, scheme, host, port_text = case
    canonical = normalise(URL, raw)
    assert normalise(URL, canonical) == canonical
    assert canonical.startswith(f"{scheme}://{host}{port_text}/")
    assert "#" not in canonical
    assert canonical.isascii()
    for escape in ESCAPE.findall(canonical):
        assert re.fullmatch(r"[0-9A-F]{2}", escape)
        assert chr(int(escape, 16)) not in UNRESERVED
    path = canonical[len(f"{scheme}://{host}{port_text}") :].split("?", 1)[0]
    assert "/./" not in path + "/"
    assert "/../" not in path + "/"


@FAST
@given(urls())
def test_url_without_scheme_reads_as_http(case: tuple[str, str, str, str]) -> None:
    raw = re.sub(r"^(?i:https?)://", "", case[0])
    assert normalise(URL, raw) == normalise(URL, "http://" + raw)


@FAST
@given(
    st.sampled_from(["ftp", "file", "javascript", "ws", "wss", "hxxp", "gopher", "FTP", "data"]),
    st.sampled_from(["example.com/", "example.com", "1.2.3.4/x"]),
)
def test_url_with_unsupported_scheme(scheme: str, rest: str) -> None:
    error = rejected(URL, f"{scheme}://{rest}")
    assert error.code == "InvalidUrl"
    assert "not supported" in error.reason
    assert repr(scheme.lower()) in error.reason


@FAST
@given(urls(), st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\u00a0", "\u3000"]), st.data())
def test_url_with_white_space_inside(
    case: tuple[str, str, str, str], space: str, data: st.DataObject
) -> None:
    raw = case[0]
    at = data.draw(st.integers(1, len(raw) - 1))
    assert "white space" in rejected(URL, raw[:at] + space + raw[at:]).reason


@FAST
@given(st.one_of(st.integers(65536, 10**8), st.just(0)), st.sampled_from(["http", "https"]))
def test_url_with_port_out_of_range(port: int, scheme: str) -> None:
    error = rejected(URL, f"{scheme}://example.com:{port}/x")
    assert f"port {port} is out of range" in error.reason


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", ["empty"]),
        ("http://", ["no host"]),
        ("http:///path", ["no host"]),
        ("https://:443/", ["no host"]),
        ("http://user@/x", ["no host"]),
        ("//example.com/x", ["no host"]),
        ("http://example.com:abc/", ["port"]),
        ("http://example.com:٨٠/", ["port"]),
        ("http://example.com:-1/", ["port"]),
        ("http://localhost/", ["invalid host", "two labels"]),
        ("http://exa_mple!.com/", ["invalid host"]),
        ("http://[2001:db8::1/", ["unterminated"]),
        ("http://[2001:db8::g]/", ["invalid IPv6"]),
        ("http://[fe80::1%25eth0]/", ["zone"]),
        ("http://example.com\\@evil.example/", ["backslash"]),
        ("http://xn--zz.com/", ["invalid host", "punycode"]),
        ("mailto:someone@example.com", ["scheme 'mailto' is not supported"]),
        ("javascript:alert(1)", ["scheme 'javascript' is not supported"]),
        ("http:example.com/x", ["must be followed by '//'"]),
    ],
)
def test_url_rejections(raw: str, words: list[str]) -> None:
    error = rejected(URL, raw)
    assert error.code == "InvalidUrl"
    for word in words:
        assert word in error.reason


# --- detection -------------------------------------------------------------------------------


@FAST
@given(st.one_of(ascii_domains(), unicode_domains()))
def test_detect_domain(case: tuple[str, str]) -> None:
    assert detect_type(case[0]) is DOMAIN


@FAST
@given(urls())
def test_detect_url(case: tuple[str, str, str, str]) -> None:
    raw = case[0]
    if "://" not in raw and not re.search(r"[/?]", raw):
        raw += "/"
    assert detect_type(raw) is URL


# --- homographs ------------------------------------------------------------------------------


def test_homograph_domain_is_valid_and_explained() -> None:
    assert normalise(DOMAIN, "xn--pple-43d.com") == "xn--pple-43d.com"
    assert homograph_notice("xn--pple-43d.com") == (
        "xn--pple-43d.com displays as 'аpple.com' and mixes Latin and Cyrillic scripts "
        "(possible homograph)"
    )


def test_homograph_in_a_url_host_and_a_subdomain() -> None:
    url = normalise(URL, "https://login.аpple.com/x")
    host = url.split("/")[2]
    notice = homograph_notice(host)
    assert notice is not None
    assert "'login.аpple.com'" in notice


def test_greek_omicron_in_a_latin_name() -> None:
    canonical = normalise(DOMAIN, "gοοgle.com")  # two Greek small omicrons
    notice = homograph_notice(canonical)
    assert notice is not None
    assert "mixes Latin and Greek scripts" in notice


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "xn--bcher-kva.example",  # bücher: Latin only
        "xn--80ak6aa92e.com",  # all Cyrillic: a whole-script name, not a mixed label
        "xn--r8jz45g.xn--zckzah",  # Han and Hiragana, Katakana: Japanese mixes them legitimately
        "xn--3e0b707e.xn--3e0b707e",  # Hangul
        "xn--caf-dma.com",  # café
        "xn--1-7sbbc.com",  # Cyrillic letters with a digit and a hyphen
        "a-1.example",
        "1.2.3.4",
        "[2001:db8::1]",
        "xn--zz.com",  # not decodable: nothing to explain
    ],
)
def test_no_homograph_notice(host: str) -> None:
    assert homograph_notice(host) is None


@FAST
@given(unicode_domains())
def test_homograph_notice_never_fails_on_canonical_names(case: tuple[str, str]) -> None:
    notice = homograph_notice(normalise(DOMAIN, case[0]))
    assert notice is None or notice.endswith("(possible homograph)")
