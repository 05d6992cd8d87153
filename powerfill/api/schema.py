"""How the OpenAPI document describes our authentication (drf-spectacular extensions, loaded in AppConfig.ready)."""

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
