"""Token authentication: ``X-Auth-Token: <token>`` (as the ServiceStage API) or ``Authorization: Token <token>``."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from devops_console.core.models import ApiToken, hash_token

_MAX_TOKEN_LENGTH = 200
# last_used_at is informative; writing it on every request would turn every read into a write.
_LAST_USED_PRECISION = timedelta(minutes=1)


class TokenAuthFailed(exceptions.AuthenticationFailed):
    """Authentication failed with a specific API error number."""

    def __init__(self, detail, error_number: int):
        super().__init__(detail)
        self.error_number = error_number


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def _raw_token(self, request) -> str | None:
        header_token = request.META.get("HTTP_X_AUTH_TOKEN")
        authorization = request.META.get("HTTP_AUTHORIZATION")
        if header_token is not None:
            return header_token
        if not authorization:
            return None
        parts = authorization.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise TokenAuthFailed(
                _("Malformed Authorization header: use “Authorization: Token <token>” or “X-Auth-Token: <token>”."),
                4013,
            )
        return parts[1]

    def authenticate(self, request):
        raw = self._raw_token(request)
        if raw is None:
            return None
        raw = raw.strip()
        if (
            not raw
            or len(raw) > _MAX_TOKEN_LENGTH
            or not raw.isascii()
            or not raw.startswith(settings.API_TOKEN_PREFIX)
        ):
            raise TokenAuthFailed(_("Malformed token."), 4013)
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
        if token is None:
            raise TokenAuthFailed(_("Invalid token."), 4010)
        if token.revoked_at is not None:
            raise TokenAuthFailed(_("This token has been revoked."), 4012)
        if token.is_expired:
            raise TokenAuthFailed(_("This token has expired."), 4011)
        if not token.user.is_active:
            raise TokenAuthFailed(_("The token's user is inactive."), 4010)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        # A WWW-Authenticate challenge makes DRF answer 401 rather than 403 when unauthenticated.
        return self.keyword
