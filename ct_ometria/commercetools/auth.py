"""OAuth2 client credentials for commercetools, with the token cached and renewed before expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from ct_ometria.errors import UpstreamError
from ct_ometria.retry import RetryBudget, raise_for_transient, retrying
from ct_ometria.settings import CommercetoolsSettings

# Renew this long before the token expires, so no request starts with a token about to die.
# commercetools tokens live 48 h by default (configurable per API client down to 1 h).
RENEW_MARGIN_SECONDS = 300.0


class TokenProvider:
    def __init__(
        self,
        settings: CommercetoolsSettings,
        http: httpx.Client,
        budget: RetryBudget,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._settings = settings
        self._http = http
        self._budget = budget
        self._clock = clock
        self._sleep = sleep
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.fetched = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - RENEW_MARGIN_SECONDS:
                self._token, lifetime = self._fetch()
                self._expires_at = self._clock() + lifetime
                self.fetched += 1
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after the API refused it (revoked, or expired early)."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        settings = self._settings
        form = {"grant_type": "client_credentials"}
        if settings.scopes:
            form["scope"] = " ".join(settings.scopes)
        url = f"{settings.auth_url}/oauth/token"

        def call() -> httpx.Response:
            response = self._http.post(
                url,
                # The RAML documents query parameters, the SDKs send a form body; the emulator reads
                # `scope` only from the query string. Sending both is accepted everywhere.
                params=form,
                data=form,
                auth=(settings.client_id, settings.client_secret.get_secret_value()),
            )
            raise_for_transient(response, "commercetools token request", (429, 500, 502, 503, 504))
            return response

        response = retrying(self._budget, f"commercetools token request to CTP_AUTH_URL={settings.auth_url}", sleep=self._sleep)(call)
        if response.status_code != 200:
            code, message = error_code_and_message(response)
            if response.status_code == 404:
                problem = f"no token endpoint at CTP_AUTH_URL={settings.auth_url}"
            else:
                problem = f"commercetools refused the client credentials for project {settings.project_key}"
                if response.status_code in (400, 401):
                    message += " (check CTP_CLIENT_ID and CTP_CLIENT_SECRET)"
            raise UpstreamError(
                f"{problem}: HTTP {response.status_code} {code}: {message}",
                status=response.status_code,
                code=code,
            )
        body = response.json()
        return body["access_token"], float(body.get("expires_in", 3600))


def error_code_and_message(response: httpx.Response) -> tuple[str, str]:
    """commercetools' error code and message from ``{"statusCode","message","errors":[{"code",...}]}``."""
    try:
        body = response.json()
    except ValueError:
        return "unknown", response.text[:200]
    if not isinstance(body, dict):
        return "unknown", str(body)[:200]
    errors = body.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = first.get("code") or body.get("error") or "unknown"
    message = first.get("message") or body.get("message") or body.get("error_description") or ""
    return str(code), str(message)
