"""The error answers of every operation, in the OpenAPI document: derived once, for the whole app.

``document_errors(app)`` (called by ``create_app``) completes the app's OpenAPI document when
it is first made: each operation lists every error status it can answer, all with the app's
JSON error body (``ErrorMessage``; ``InternalError`` for 500) and the headers the handlers of
``mcae.platform.errors`` set (``Cache-Control: no-store`` on every error,
``WWW-Authenticate`` on 401, ``Retry-After`` on 503). What it derives from a route:

* every route: 400 (the query guard refuses undeclared query parameters; ``InputError``)
  and 500 (a server fault, with the ``request_id`` of its log line);
* a path parameter that is an id (not an enum): 404;
* the ``current_user`` dependency: 401 (and the bearer security requirement), 429 (failed
  authentications from the address or for the token id: backing off) and 503 (every scrypt
  verification slot busy); a role above viewer: 403; a write (not GET): 507 (a full disk),
  nothing saved;
* an ``If-Match`` header: 409 (a stale version) and 412 (a missing or malformed one);
* a request body: 413 (over the app's body cap).

Statuses only a route knows about (410, 413 of a pixel cap, a 409 of its own ...) it declares
itself with FastAPI's ``responses=`` and its own description; body and headers are filled in
here. Plain statuses refer to shared ``components/responses``. The document's tuple schemas
(``prefixItems``) become arrays of fixed length, which every OpenAPI tool reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, Literal, get_origin

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from mcae.platform.annotation.auth import current_user

SECURITY = "bearerToken"
READ_METHODS = {"GET", "HEAD"}

# status -> (name in components/responses, description)
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Bad request: an undeclared query parameter, or a value the route cannot use."),
    401: ("Unauthorized", "No token, or one that names nobody (`Authorization: Bearer <token>`)."),
    403: ("Forbidden", "The token's user lacks the role this needs."),
    404: ("NotFound", "Unknown id, or nothing there to serve."),
    409: ("Conflict", "The change collides with the current state (a newer version): the body names it."),
    412: ("PreconditionFailed", "The write names no version it was made on, or a malformed one (`If-Match`)."),
    413: ("ContentTooLarge", "The request body is over the server's cap."),
    429: ("TooManyRequests", "Too many requests (or failed authentications) from this client: nothing was done; "
                             "send it again after `Retry-After` seconds."),
    500: ("ServerFault", "A server fault: the server's log line carries the same `request_id`."),
    503: ("ServiceBusy", "Busy: nothing was done; send the same request again after `Retry-After` seconds."),
    507: ("InsufficientStorage", "The server's disk is full: nothing was saved; the same request can be sent later."),
}
HEADERS: dict[str, tuple[str, str]] = {  # component name -> (header, description)
    "NoStore": ("Cache-Control", "no-store: an error is never cached."),
    "WWWAuthenticate": ("WWW-Authenticate", "Bearer"),
    "RetryAfter": ("Retry-After", "Seconds to wait before sending the request again."),
}
STATUS_HEADERS: dict[int, list[str]] = {401: ["WWWAuthenticate"], 429: ["RetryAfter"], 503: ["RetryAfter"]}


class ErrorMessage(BaseModel):
    """Every error answer: a message, and for some errors more fields (a version, a state)."""

    model_config = ConfigDict(extra="allow")
    detail: str = Field(description="What went wrong, in words; never a server path.")


class InternalError(BaseModel):
    """A server fault: the id of its log line."""

    detail: str = Field(description="\"internal error\"")
    request_id: str = Field(description="The id of the server's log line that tells what happened.")


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response object of an error status: JSON error body, documented headers."""
    model = InternalError if status == 500 else ErrorMessage
    names = ["NoStore", *STATUS_HEADERS.get(status, [])]
    return {"description": description or ERRORS.get(status, ("", "Error."))[1],
            "content": {"application/json": {"schema": _ref("schemas", model.__name__)}},
            "headers": {HEADERS[n][0]: _ref("headers", n) for n in names}}


# -- what a route can answer ---------------------------------------------------------------

def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    stack = [dependant]
    while stack:
        found = stack.pop()
        yield found
        stack.extend(found.dependencies)


def _calls(route: APIRoute) -> list[Callable[..., Any]]:
    return [d.call for d in _dependants(route.dependant) if d.call is not None]


def _is_id(param: Any) -> bool:
    """A path parameter addressed by id, not one of a fixed set of values (an enum)."""
    annotation = param.field_info.annotation
    fixed = get_origin(annotation) is Literal or (isinstance(annotation, type) and issubclass(annotation, Enum))
    return not fixed


def authenticated(route: APIRoute) -> bool:
    return current_user in _calls(route)


def derived_statuses(route: APIRoute) -> set[int]:
    """The error statuses a route can answer because of what it is built from."""
    statuses = {400, 500}
    dependants = list(_dependants(route.dependant))
    if any(_is_id(p) for d in dependants for p in d.path_params):
        statuses.add(404)
    if authenticated(route):
        statuses.update({401, 429, 503})
        if any(getattr(c, "__name__", "").startswith("require_") and c.__name__ != "require_viewer"
               for c in _calls(route)):
            statuses.add(403)
        if not set(route.methods or ()) <= READ_METHODS:
            statuses.add(507)
    if any(p.alias.lower() == "if-match" for d in dependants for p in d.header_params):
        statuses.update({409, 412})
    if route.body_field is not None or "requestBody" in (route.openapi_extra or {}):
        statuses.add(413)
    return statuses


def api_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every API route of an app with its full path (included routers walked, whether FastAPI
    copies their routes into the app or keeps them behind an include record)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path_format, route
            continue
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from api_routes(inner.routes, prefix + getattr(context, "prefix", ""))


# -- the document ------------------------------------------------------------------------------

def document_errors(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document list every error status of every operation."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = make()
            routes = {(path, method.lower()): route for path, route in api_routes(app.routes)
                      for method in route.methods or ()}
            complete(document, routes)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any], routes: dict[tuple[str, str], APIRoute]) -> None:
    """Add the derived error responses, their components and the bearer scheme to ``document``."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for model in (ErrorMessage, InternalError):
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components["headers"] = {name: {"description": text, "required": True, "schema": {"type": "string"}}
                             for name, (_, text) in HEADERS.items()}
    components["responses"] = {name: error_response(status) for status, (name, _) in ERRORS.items()}
    components.setdefault("securitySchemes", {})[SECURITY] = {
        "type": "http", "scheme": "bearer", "description": "A token from `mcae users add` or `mcae users token`."}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((path, method))
            responses = operation.setdefault("responses", {})
            declared = {int(k) for k in responses if str(k).isdigit() and int(k) >= 400}
            derived = derived_statuses(route) if route is not None else {400, 500}
            for status in declared | derived:
                responses[str(status)] = _error(status, responses.get(str(status)))
            if route is not None and authenticated(route):
                operation["security"] = [{SECURITY: []}]
            operation["responses"] = dict(sorted(responses.items()))
    _fixed_length_arrays(document)


def _error(status: int, given: dict[str, Any] | None) -> dict[str, Any]:
    """One error response: the shared one, or the route's own words (and body model) with the
    shared body and headers."""
    if not given and status in ERRORS:
        return _ref("responses", ERRORS[status][0])
    given = given or {}
    full = error_response(status, given.get("description"))
    content = given.get("content") or {}
    if any(media.get("schema") for media in content.values()):  # a model of its own (422)
        full["content"] = content
    full["headers"] = {**full["headers"], **given.get("headers", {})}
    return full


def _fixed_length_arrays(node: Any) -> None:
    """Rewrite tuple schemas (``prefixItems``) as arrays of fixed length, in place."""
    if isinstance(node, dict):
        prefix = node.pop("prefixItems", None)
        if isinstance(prefix, list):
            distinct = [s for i, s in enumerate(prefix) if s not in prefix[:i]]
            node["items"] = distinct[0] if len(distinct) == 1 else {"anyOf": distinct}
            node.setdefault("minItems", len(prefix))
            node.setdefault("maxItems", len(prefix))
        for value in node.values():
            _fixed_length_arrays(value)
    elif isinstance(node, list):
        for value in node:
            _fixed_length_arrays(value)
