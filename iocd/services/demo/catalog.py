"""What the demo data set is made of: threat campaigns (real values from `samples`, plus made-up
ones in the same style), device groups, the fleet's naming, and the benign software, sites and
addresses that fill most of a day of telemetry. Data only."""

from __future__ import annotations

from dataclasses import dataclass, field

from iocd.domain.accounts import GroupRules
from iocd.domain.types import IndicatorType, Severity
from iocd.services.demo import samples

T = IndicatorType


@dataclass(frozen=True, slots=True)
class Campaign:
    """One source of intelligence: the text its indicators carry and its known values."""

    name: str
    summary: str
    category: str
    techniques: tuple[str, ...]
    severity: Severity
    recommended: str
    values: dict[IndicatorType, list[str]] = field(default_factory=dict)
    made_up: dict[IndicatorType, int] = field(default_factory=dict)
    """How many values of each type to generate, as a share of the data set (per mille)."""
    file_names: tuple[str, ...] = ()


CAMPAIGNS = (
    Campaign(
        "Sednit (APT28)",
        "ESET: Sednit (APT28, Fancy Bear, Sofacy) spear-phishing documents dropping Seduploader "
        "and Xagent; the C2 infrastructure seen in 2017.",
        "Malware",
        ("T1566.001", "T1203", "T1071.001"),
        Severity.HIGH,
        "Isolate the device, collect the dropped documents and reset the user's credentials.",
        {
            T.FILE_SHA1: samples.SEDNIT_SHA1,
            T.DOMAIN_NAME: samples.SEDNIT_DOMAINS,
            T.IP_ADDRESS: samples.SEDNIT_IPS,
        },
        file_names=("Bulletin.doc", "NASAMS.doc", "Hotel_Reservation_Form.doc", "xagent.exe"),
    ),
    Campaign(
        "Four-Element Sword",
        "ASERT: targeted attacks with Elise, Exploz and T9000 delivered by RTF exploits "
        "(CVE-2012-0158, CVE-2015-1641), dynamic-DNS C2 hosts.",
        "CommandAndControl",
        ("T1566.001", "T1203", "T1568", "T1573"),
        Severity.HIGH,
        "Block the C2 hosts at the proxy and hunt for the loader DLLs on the same devices.",
        {
            T.FILE_SHA256: samples.SWORD_SHA256,
            T.FILE_SHA1: samples.SWORD_SHA1,
            T.FILE_MD5: samples.SWORD_MD5,
            T.DOMAIN_NAME: samples.SWORD_DOMAINS,
            T.IP_ADDRESS: samples.SWORD_IPS,
        },
        file_names=("igfxtray.exe", "srvlic.dll", "uhfx.dat", "brochure .doc"),
    ),
    Campaign(
        "SamSam ransomware",
        "US-CERT MAR-10164494: SamSam ransomware loaders and payloads deployed by hand after "
        "RDP brute force.",
        "Ransomware",
        ("T1486", "T1490", "T1133", "T1110"),
        Severity.HIGH,
        "Disconnect the device from the network at once and open a major incident.",
        {
            T.FILE_SHA256: samples.SAMSAM_SHA256,
            T.FILE_SHA1: samples.SAMSAM_SHA1,
            T.FILE_MD5: samples.SAMSAM_MD5,
        },
        file_names=("mswinupdate.exe", "ClassLibrary1.dll", "g04inst.bat"),
    ),
    Campaign(
        "HIDDEN COBRA FALLCHILL",
        "US-CERT TA17-318A: FALLCHILL remote administration tool of the HIDDEN COBRA actors "
        "and the addresses of its fake-TLS C2 network.",
        "CommandAndControl",
        ("T1071.001", "T1573.001", "T1105"),
        Severity.HIGH,
        "Treat the device as compromised: isolate it and escalate to incident response.",
        {
            T.FILE_MD5: samples.FALLCHILL_MD5,
            T.FILE_SHA256: samples.FALLCHILL_SHA256,
            T.IP_ADDRESS: samples.FALLCHILL_IPS,
        },
        file_names=("svchost.exe", "msncf.dll"),
    ),
    Campaign(
        "Blocklisted scanners",
        "Addresses listed by at least three public blocklists (ipsum level 3): mass scanning, "
        "SSH and RDP brute force, web exploitation attempts.",
        "SuspiciousActivity",
        ("T1595.002", "T1110.001"),
        Severity.MEDIUM,
        "Check the exposed service's logs for successful sign-ins from this address.",
        {T.IP_ADDRESS: samples.SCANNER_IPS},
    ),
    Campaign(
        "Infostealer via fake updates",
        "Fake browser-update pages delivering an infostealer that exfiltrates saved "
        "passwords and session cookies over HTTPS.",
        "CredentialAccess",
        ("T1189", "T1555.003", "T1539", "T1041"),
        Severity.HIGH,
        "Revoke the user's sessions, reset saved passwords and remove the payload.",
        made_up={T.FILE_SHA256: 160, T.FILE_SHA1: 40, T.FILE_MD5: 40, T.DOMAIN_NAME: 70, T.URL: 70},
        file_names=("ChromeUpdate.exe", "update_installer.msi", "browser_fix.js"),
    ),
    Campaign(
        "Invoice phishing kit",
        "Credential-phishing pages imitating invoice portals and Microsoft 365 sign-in, "
        "hosted on freshly registered domains.",
        "InitialAccess",
        ("T1566.002", "T1598.003", "T1078"),
        Severity.MEDIUM,
        "Reset the password of any user who opened the page and review their sign-ins.",
        made_up={T.DOMAIN_NAME: 50, T.URL: 80},
    ),
    Campaign(
        "Unapproved remote access tools",
        "Remote-administration tools not approved by IT; legitimate software often abused "
        "for hands-on-keyboard access.",
        "SuspiciousActivity",
        ("T1219",),
        Severity.LOW,
        "Confirm with the device owner whether the tool is expected; uninstall it otherwise.",
        made_up={T.FILE_SHA256: 40, T.FILE_MD5: 10},
        file_names=("AnyDesk.exe", "rutserv.exe", "ngrok.exe"),
    ),
    Campaign(
        "Abused code-signing certificates",
        "Leaf certificates stolen from software vendors and used to sign malware.",
        "DefenseEvasion",
        ("T1553.002", "T1588.003"),
        Severity.HIGH,
        "Block the certificate and re-scan every file it signed.",
        made_up={T.CERTIFICATE_THUMBPRINT: 25},
    ),
)

GROUPS = (
    ("Domain controllers", GroupRules(names=("dc-*",)), "Active Directory domain controllers"),
    ("Finance", GroupRules(names=("fin-*",)), "Finance department workstations"),
    ("Servers", GroupRules(names=("srv-*",)), "Data-centre and cloud servers"),
    ("Laptops", GroupRules(names=("lt-*",)), "Staff laptops"),
    ("Workstations", GroupRules(names=("ws-*",)), "Office desktops"),
)
"""(name, rules, description), best rank first; kiosks stay in Ungrouped devices."""

FLEET = (
    ("dc-{:02d}", 2),
    ("srv-web-{:02d}", 4),
    ("srv-db-{:02d}", 3),
    ("srv-app-{:02d}", 3),
    ("srv-file-{:02d}", 2),
    ("fin-ws-{:02d}", 6),
    ("lt-{:03d}", 20),
    ("ws-{:03d}", 8),
    ("kiosk-{:02d}", 2),
)
"""Device name patterns and how many of each in a 50-device fleet."""

SOFTWARE = (
    ("chrome.exe", r"C:\Program Files\Google\Chrome\Application", "Google LLC"),
    ("msedge.exe", r"C:\Program Files (x86)\Microsoft\Edge\Application", "Microsoft Corporation"),
    ("OUTLOOK.EXE", r"C:\Program Files\Microsoft Office\root\Office16", "Microsoft Corporation"),
    ("WINWORD.EXE", r"C:\Program Files\Microsoft Office\root\Office16", "Microsoft Corporation"),
    ("EXCEL.EXE", r"C:\Program Files\Microsoft Office\root\Office16", "Microsoft Corporation"),
    ("Teams.exe", r"C:\Users\Public\AppData\Local\Microsoft\Teams", "Microsoft Corporation"),
    ("svchost.exe", r"C:\Windows\System32", "Microsoft Windows"),
    ("powershell.exe", r"C:\Windows\System32\WindowsPowerShell\v1.0", "Microsoft Windows"),
    ("explorer.exe", r"C:\Windows", "Microsoft Windows"),
    ("MsMpEng.exe", r"C:\ProgramData\Microsoft\Windows Defender\Platform", "Microsoft Windows"),
    ("kernel32.dll", r"C:\Windows\System32", "Microsoft Windows"),
    ("ntdll.dll", r"C:\Windows\System32", "Microsoft Windows"),
    (
        "sqlservr.exe",
        r"C:\Program Files\Microsoft SQL Server\MSSQL16\MSSQL\Binn",
        "Microsoft Corporation",
    ),
    ("w3wp.exe", r"C:\Windows\System32\inetsrv", "Microsoft Windows"),
    ("slack.exe", r"C:\Users\Public\AppData\Local\slack", "Slack Technologies, LLC"),
    ("zoom.exe", r"C:\Users\Public\AppData\Roaming\Zoom\bin", "Zoom Video Communications"),
    ("7zFM.exe", r"C:\Program Files\7-Zip", None),
    ("python.exe", r"C:\Program Files\Python311", "Python Software Foundation"),
)
"""(file name, folder, signer or None): the benign programs every device runs."""

SITES = (
    "login.microsoftonline.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "www.google.com",
    "update.googleapis.com",
    "github.com",
    "api.github.com",
    "slack.com",
    "zoom.us",
    "www.wikipedia.org",
    "cdn.jsdelivr.net",
    "fonts.gstatic.com",
    "windowsupdate.microsoft.com",
    "ctldl.windowsupdate.com",
    "www.linkedin.com",
    "d1.awsstatic.com",
    "s3.amazonaws.com",
    "pypi.org",
    "files.pythonhosted.org",
)
"""Benign sites for DNS, TLS and HTTP events."""

ADDRESSES = (
    "13.107.42.14",
    "13.107.6.152",
    "20.190.159.2",
    "40.126.32.74",
    "52.96.165.18",
    "140.82.121.4",
    "140.82.112.3",
    "142.250.74.110",
    "142.250.179.196",
    "151.101.1.69",
    "104.16.132.229",
    "104.18.32.115",
    "34.107.221.82",
    "3.5.29.10",
    "17.253.144.10",
)
"""Benign public addresses for network events."""

SYLLABLES = (
    "ar",
    "bel",
    "cor",
    "dex",
    "fin",
    "gal",
    "hub",
    "ion",
    "kor",
    "lum",
    "mar",
    "net",
    "ova",
    "pix",
    "qua",
    "ros",
    "sec",
    "tel",
    "ul",
    "ver",
    "wex",
    "zen",
    "up",
    "data",
    "soft",
    "cloud",
)
TLDS = ("com", "net", "top", "xyz", "info", "online", "site", "click", "live", "shop")
URL_PATHS = (
    "/wp-content/plugins/{w}/update.php",
    "/download/invoice_{n}.zip",
    "/secure/{w}/login.html",
    "/{w}/office365/index.php",
    "/update/chrome/{n}/setup.exe",
    "/api/v{d}/gate.php",
)
