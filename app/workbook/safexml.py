"""XML parts parsed with defusedxml's rules at C speed, and the sheet -> part map both the
guard and the lean reader use (so the guard checks exactly the parts the reader opens).

Each part's prolog goes through expat with defusedxml's handlers: a DTD, an entity
declaration or an external reference raises defusedxml's own exception, reported as an
unsafe workbook. A DTD can stand nowhere but in the prolog (expat refuses one after the
root element starts), so the body is then parsed by the standard library's C ElementTree
parser, which sees only the five predefined entities.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
from xml.parsers import expat

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from app.workbook.errors import CorruptWorkbook, UnsafeWorkbook

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_REL_ID = "{" + REL + "}id"
WORKBOOK_PART = "xl/workbook.xml"
WORKBOOK_RELS_PART = "xl/_rels/workbook.xml.rels"


class _RootReached(Exception):
    """The prolog is over: the root element starts."""


def _forbid_dtd(name, sysid, pubid, has_internal_subset):
    raise DTDForbidden(name, sysid, pubid)


def _forbid_entity(name, is_parameter_entity, value, base, sysid, pubid, notation_name):
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation_name)


def _forbid_unparsed_entity(name, base, sysid, pubid, notation_name):
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation_name)


def _forbid_external(context, base, sysid, pubid):
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


def _root_reached(name, attrs):
    raise _RootReached


def check_prolog(part: str, content: bytes) -> None:
    """Run the prolog through expat with defusedxml's handlers, up to the root element."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _forbid_dtd
    parser.EntityDeclHandler = _forbid_entity
    parser.UnparsedEntityDeclHandler = _forbid_unparsed_entity
    parser.ExternalEntityRefHandler = _forbid_external
    parser.StartElementHandler = _root_reached
    try:
        parser.Parse(content, True)
    except _RootReached:
        return
    except DefusedXmlException:
        raise UnsafeWorkbook(f"part {part} declares XML entities, which workbooks never do; the workbook was not read",
                             code="xml_entities") from None
    except expat.ExpatError as exc:
        raise CorruptWorkbook(f"part {part} is not well-formed XML ({exc})") from None
    raise CorruptWorkbook(f"part {part} holds no XML element")


def parse(part: str, content: bytes, prolog_checked: bool = False) -> ET.Element:
    """The part's element tree, after the prolog check."""
    if not prolog_checked:
        check_prolog(part, content)
    try:
        return ET.fromstring(content)
    except ET.ParseError as exc:
        raise CorruptWorkbook(f"part {part} is not well-formed XML ({exc})") from None


def relationships(rels: ET.Element | None) -> tuple[dict[str, str], dict[str, str]]:
    """The workbook's relationships: id -> part, and type -> the first part of that type."""
    targets: dict[str, str] = {}
    by_type: dict[str, str] = {}
    for rel in rels.iter(_RELATIONSHIP) if rels is not None else ():
        target = rel.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
        targets[rel.get("Id", "")] = part
        by_type.setdefault(rel.get("Type", ""), part)
    return targets, by_type


def sheets(workbook: ET.Element) -> list[tuple[str, str]]:
    """(sheet name, relationship id) in the workbook's order."""
    return [(sheet.get("name", ""), sheet.get(_REL_ID, "")) for sheet in workbook.iter(MAIN + "sheet")]


def sheet_parts(workbook: ET.Element, rels: ET.Element | None) -> dict[str, str | None]:
    """Sheet name -> the zip part that holds it (None when the workbook names no part)."""
    targets, _ = relationships(rels)
    return {name: targets.get(rid) for name, rid in sheets(workbook)}
