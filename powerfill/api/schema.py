"""The OpenAPI document's extras (drf-spectacular): our authentication schemes, loaded in AppConfig.ready, and, by
postprocessing hooks, the error responses every operation can give and the NUL characters no string may hold."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "powerfill.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; create a key with `manage.py create_api_token <account>` or in the admin.",
        }


class AccountBasicScheme(OpenApiAuthenticationExtension):
    target_class = "powerfill.api.authentication.AccountBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "An operator user's username and password."}


API_ERROR_RESPONSE = {
    "type": "object",
    "description": "SteVe's ApiErrorResponse, plus fieldErrors for validation errors.",
    "properties": {
        "status": {"type": "integer", "example": 400},
        "error": {"type": "string", "example": "Bad Request"},
        "message": {"type": "string"},
        "path": {"type": "string", "example": "/api/v1/sites"},
        "timestamp": {"type": "string", "format": "date-time"},
        "fieldErrors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"children[0].name": ["This field is required."]},
        },
    },
    "required": ["status", "error", "message", "path", "timestamp"],
}

ERROR_RESPONSES = {
    "400": "Invalid request; nothing was changed.",
    "401": "Missing or invalid credentials.",
    "404": "No such object in this account.",
    "429": "Rate limit exceeded; see X-Rate-Limit-Retry-After-Seconds.",
}


# DRF's and Django's text fields refuse NUL characters (PostgreSQL cannot store them): every string the API reads
# says so, unless a format, an enum or a pattern of its own already rules them out.
NO_NUL_CHARACTERS = r"^[^\x00]*$"


def _refuse_nul_characters(schema: dict, components: dict, seen: set) -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            _refuse_nul_characters(components[name], components, seen)
        return
    if schema.get("type") == "string" and not schema.keys() & {"format", "enum", "pattern"}:
        schema["pattern"] = NO_NUL_CHARACTERS
    nested = [*schema.get("properties", {}).values(), *schema.get("allOf", []), *schema.get("oneOf", [])]
    nested += [*schema.get("anyOf", []), schema.get("items"), schema.get("additionalProperties")]
    for child in nested:
        if isinstance(child, dict):
            _refuse_nul_characters(child, components, seen)


def refuse_nul_characters(result, generator, request, public):
    """Mark every string of the requests (bodies and parameters) as free of NUL characters."""
    components, seen = result.get("components", {}).get("schemas", {}), set()
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _refuse_nul_characters(parameter["schema"], components, seen)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _refuse_nul_characters(media["schema"], components, seen)
    return result


def add_error_responses(result, generator, request, public):
    """Document the error shape once and reference it from every operation under /api/v1/."""
    result.setdefault("components", {}).setdefault("schemas", {})["ApiErrorResponse"] = API_ERROR_RESPONSE
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiErrorResponse"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                # Our ids are matched with \d+ in the URL: say "integer", as SteVe's document does.
                if parameter["in"] == "path" and parameter["schema"].get("pattern") == r"^\d+$":
                    parameter["schema"] = {"type": "integer", "minimum": 1}
            for status, description in ERROR_RESPONSES.items():
                operation["responses"].setdefault(status, {"description": description, "content": reference})
    return result
