"""The mark a colorized file carries: an XMP packet saying, machine-readably, that tinct colorized
it, with which version and model, and when. The input's own XMP (captions, rights, keywords) is
kept: tinct's description is added to its ``rdf:RDF`` (a previous tinct description replaced).

Properties (namespace ``NS``, prefix ``tinct``): ``Colorized`` ("True"), ``Software`` ("tinct"),
``Version``, ``Model`` (the model's name), ``ModelSha256`` (first 16 hex digits of the model
file's SHA-256, when known) and ``Date`` (ISO 8601, UTC).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from tinct import __version__

NS = "https://tinct.dev/ns/provenance/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_OURS = re.compile(rb"<rdf:Description[^>]*xmlns:tinct=[^>]*?/>", re.DOTALL)


def record(model: str, model_sha256: str | None = None, when: datetime | None = None) -> dict[str, str]:
    """The provenance of one colorization, as the properties written."""
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    out = {"Colorized": "True", "Software": "tinct", "Version": __version__, "Model": model,
           "Date": when.isoformat(timespec="seconds")}
    if model_sha256:
        out["ModelSha256"] = model_sha256[:16]
    return out


def description(props: dict[str, str]) -> bytes:
    attrs = " ".join(f'tinct:{k}="{escape(str(v), {chr(34): "&quot;"})}"' for k, v in props.items())
    return f'<rdf:Description rdf:about="" xmlns:tinct="{NS}" {attrs}/>'.encode()


def xmp_packet(existing: bytes | None, props: dict[str, str]) -> bytes:
    """An XMP packet: ``existing`` (the input's) with tinct's description added, or a new one."""
    ours = description(props)
    if existing and b"</rdf:RDF>" in existing:
        kept = _OURS.sub(b"", existing)
        head, _, tail = kept.rpartition(b"</rdf:RDF>")
        return head + ours + b"</rdf:RDF>" + tail
    return (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="' + _RDF.encode() + b'">'
            + ours + b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def read(xmp: bytes | None) -> dict[str, str]:
    """tinct's properties in an XMP packet ({} when it carries none)."""
    if not xmp:
        return {}
    m = _OURS.search(xmp)
    if not m:
        return {}
    from html import unescape

    return {k.decode(): unescape(v.decode()) for k, v in re.findall(rb'tinct:(\w+)="([^"]*)"', m.group(0))}
