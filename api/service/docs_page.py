"""The OpenAPI document as one HTML page for people, rendered here on the server.

No scripts and nothing fetched from elsewhere (the usual viewers load their code from a CDN):
the page works offline and behind strict firewalls. Every operation lists its parameters, its
body and its answers; the schemas follow, each a table of its fields, linked from where used.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from api.service.openapi import ERRORS

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d2330; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ccd; }
section.op { border: 1px solid #dde; border-radius: 6px; padding: 0 1rem 0.5rem; margin: 1rem 0; }
.method { font-weight: bold; text-transform: uppercase; margin-right: 0.5rem; }
table { border-collapse: collapse; margin: 0.4rem 0 0.8rem; }
th, td { text-align: left; vertical-align: top; padding: 0.2rem 0.6rem;
         border-bottom: 1px solid #eee; }
code { background: #f3f4f8; padding: 0 0.2rem; border-radius: 3px; }
"""


def render(document: dict[str, Any]) -> str:
    info = document["info"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(info['title'])} API</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(info['title'])} API <small>{escape(info['version'])}</small></h1>",
        f"<p>{_text(info['description'])}</p>",
        '<p>The machine-readable document: <a href="/openapi.json"><code>/openapi.json</code>'
        "</a> (OpenAPI " + escape(document["openapi"]) + ").</p>",
        "<h2>Operations</h2>",
    ]
    components = document["components"]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parts.append(_operation(path, method, operation, components))
    parts.append("<h2>Errors</h2><table><tr><th>status</th><th>when</th></tr>")
    for status, (_, when) in ERRORS.items():
        parts.append(f"<tr><td>{status}</td><td>{_text(when)}</td></tr>")
    parts.append('</table><p>Every error body is <a href="#schema-ErrorBody">ErrorBody</a>.</p>')
    parts.append("<h2>Schemas</h2>")
    for name, schema in components["schemas"].items():
        parts.append(_schema_section(name, schema))
    parts.append("</body></html>")
    return "\n".join(parts)


def _text(words: str) -> str:
    """Escaped prose, with the document's `code` spans shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(words))


def _resolve(ref_or_item: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_item.get("$ref")
    if not ref:
        return ref_or_item
    _, _, kind, name = ref.split("/")
    return components[kind][name]


def _operation(path: str, method: str, operation: dict[str, Any], comps: dict[str, Any]) -> str:
    anchor = escape(operation["operationId"])
    rows = [
        f'<section class="op" id="{anchor}">',
        f'<h3><span class="method">{escape(method)}</span><code>{escape(path)}</code></h3>',
        f"<p>{_text(operation['summary'])}</p>",
    ]
    parameters = [_resolve(p, comps) for p in operation.get("parameters", [])]
    if parameters:
        rows.append("<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>")
        for p in parameters:
            required = "required" if p.get("required") else "optional"
            rows.append(
                f"<tr><td><code>{escape(p['name'])}</code> ({required})</td>"
                f"<td>{escape(p['in'])}</td><td>{_type(p['schema'])}</td>"
                f"<td>{_text(p.get('description', ''))}</td></tr>"
            )
        rows.append("</table>")
    body = operation.get("requestBody")
    if body:
        (media, content), *_ = body["content"].items()
        rows.append(
            f"<p><b>Body</b> (<code>{escape(media)}</code>): {_type(content['schema'])}. "
            f"{_text(body.get('description', ''))}</p>"
        )
    rows.append("<table><tr><th>answer</th><th>body</th><th></th></tr>")
    for status, answer in operation["responses"].items():
        answer = _resolve(answer, comps)
        (media, content), *_ = answer["content"].items()
        rows.append(
            f"<tr><td>{escape(status)}</td><td><code>{escape(media)}</code> "
            f"{_type(content['schema'])}</td><td>{_text(answer['description'])}</td></tr>"
        )
    rows.append("</table></section>")
    return "\n".join(rows)


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words: a link for a named schema, its rules for a plain value."""
    if "$ref" in schema:
        name = escape(schema["$ref"].rsplit("/", 1)[-1])
        return f'<a href="#schema-{name}">{name}</a>'
    if "anyOf" in schema:
        return " or ".join(_type(option) for option in schema["anyOf"])
    if "const" in schema:
        return f"<code>{escape(repr(schema['const']))}</code>"
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"array of {_type(schema.get('items', {}))}"
    else:
        text = escape(str(kind))
        if "format" in schema:
            text += f" ({escape(schema['format'])})"
    rules = [
        f"{label} {escape(str(schema[key]))}"
        for key, label in (
            ("minLength", "min length"),
            ("maxLength", "max length"),
            ("minItems", "min items"),
            ("maxItems", "max items"),
            ("minimum", "min"),
            ("maximum", "max"),
            ("default", "default"),
        )
        if key in schema
    ]
    if "pattern" in schema:
        rules.append(f"pattern <code>{escape(schema['pattern'])}</code>")
    if "pattern" in schema.get("not", {}):
        rules.append(f"not matching <code>{escape(schema['not']['pattern'])}</code>")
    return text + (f" [{'; '.join(rules)}]" if rules else "")


def _schema_section(name: str, schema: dict[str, Any]) -> str:
    rows = [f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>']
    if schema.get("description"):
        rows.append(f"<p>{_text(schema['description'])}</p>")
    properties = schema.get("properties")
    if not properties:
        rows.append(f"<p>{_type(schema)}</p>")
        return "\n".join(rows)
    required = set(schema.get("required", []))
    closed = schema.get("additionalProperties") is False
    rows.append("<table><tr><th>field</th><th>schema</th><th></th></tr>")
    for field, spec in properties.items():
        flag = "required" if field in required else "optional"
        rows.append(
            f"<tr><td><code>{escape(field)}</code> ({flag})</td><td>{_type(spec)}</td>"
            f"<td>{_text(spec.get('description', ''))}</td></tr>"
        )
    rows.append("</table>")
    if closed:
        rows.append("<p>No other fields.</p>")
    return "\n".join(rows)
