"""MTN's own error answers, not the gateway's problem+json.

The Wallet platform answers `{"code", "message"}`; Azure API Management, in front of it, answers
its own shape `{"statusCode", "message"}` for a bad subscription key, a bad token or an unknown
route; the token endpoint answers OAuth's `{"error"}`. Each error renders its own body.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MtnError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_PROCESSING_ERROR"
    message: ClassVar[str] = "An internal error occurred while processing."

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.message)
        self.detail = detail or self.message

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.detail}


class ValidationError(MtnError):
    status = 400
    code = "VALIDATION_ERROR"
    message = "Bad request. Request does not follow the specification."


class ResourceNotFound(MtnError):
    status = 404
    code = "RESOURCE_NOT_FOUND"
    message = "Requested resource was not found."


class ResourceAlreadyExist(MtnError):
    status = 409
    code = "RESOURCE_ALREADY_EXIST"
    message = "Duplicated reference id. Creation of resource failed."


class NotAllowed(MtnError):
    code = "NOT_ALLOWED"
    message = "Authorization failed. User does not have permission."


class NotAllowedTargetEnvironment(MtnError):
    code = "NOT_ALLOWED_TARGET_ENVIRONMENT"
    message = "Access to target environment is forbidden."


class InvalidCallbackUrlHost(MtnError):
    code = "INVALID_CALLBACK_URL_HOST"
    message = "Callback URL with different host name than configured for API User."


class InvalidCurrency(MtnError):
    code = "INVALID_CURRENCY"
    message = "Currency not supported."


class InternalProcessingError(MtnError):
    pass


class ServiceUnavailable(MtnError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    message = "Service is currently unavailable."


class LoginFailed(MtnError):
    """Bad Basic credentials on `/{product}/token/`: OAuth's shape."""

    status = 401
    code = "login_failed"

    def body(self) -> dict[str, Any]:
        return {"error": self.code}


class OAuthError(MtnError):
    """The consent (CIBA) token endpoint's errors: OAuth's `{"error", "error_description"}`
    (RFC 6749 §5.2, OpenID CIBA §11), 400 unless the client itself failed to authenticate."""

    status = 400

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.error = code

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.detail}


class ApimError(MtnError):
    """Answered by Azure API Management before the request reaches MTN's platform."""

    def body(self) -> dict[str, Any]:
        return {"statusCode": self.status, "message": self.detail}


class MissingSubscriptionKey(ApimError):
    status = 401
    message = (
        "Access denied due to missing subscription key. "
        "Make sure to include subscription key when making requests to an API."
    )


class InvalidSubscriptionKey(ApimError):
    status = 401
    message = (
        "Access denied due to invalid subscription key. "
        "Make sure to provide a valid key for an active subscription."
    )


class InvalidAccessToken(ApimError):
    # The body for a bad bearer token is not documented (unconfirmed): APIM's validate-jwt shape.
    status = 401
    message = "Unauthorized. Access token is missing or invalid."


class RouteNotFound(ApimError):
    status = 404
    message = "Resource not found"
