"""Who may read the daemon's HTTP endpoints: on a loopback address everyone on the machine (as
before); on any other address a bearer token from the config (`http_token_file`) is required for
the dashboard and `/status` (and `/metrics` with `metrics_require_token`), never for the probes.

A script sends `Authorization: Bearer TOKEN`. A browser opens `/ui/?token=TOKEN` once: the answer
sets the token as an HttpOnly, SameSite=Strict cookie and redirects to the same page without it.
Tokens are compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from http import cookies

COOKIE = "reconciler_token"
COOKIE_DAYS = 7
OPEN = frozenset({"/healthz", "/readyz", "/webhook"})  # the webhook checks its own signature
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="reconciler"'}


def is_loopback(address: str) -> bool:
    """Whether `HOST:PORT` (or `[v6]:PORT`) listens on loopback only (`:PORT` is every
    interface; a name other than `localhost` is not trusted to be loopback)."""
    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """The rule of one server: `token` None lets everyone in (a loopback listener)."""

    token: str | None = None
    protect_metrics: bool = False

    def needs_token(self, route: str) -> bool:
        if self.token is None or route in OPEN:
            return False
        return route != "/metrics" or self.protect_metrics

    def allowed(self, headers: Mapping[str, str]) -> bool:
        """`headers` (names lower-case) carry the token: bearer header or cookie."""
        if self.token is None:
            return True
        presented = bearer(headers.get("authorization", "")) or cookie(headers.get("cookie", ""))
        return presented is not None and self.matches(presented)

    def matches(self, presented: str) -> bool:
        if self.token is None:
            return True
        return hmac.compare_digest(presented.encode("utf-8"), self.token.encode("utf-8"))


def bearer(value: str) -> str | None:
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def cookie(value: str) -> str | None:
    if not value:
        return None
    jar = cookies.SimpleCookie()
    try:
        jar.load(value)
    except cookies.CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def set_cookie(token: str, *, secure: bool) -> str:
    """The Set-Cookie value that keeps the token in the browser (not readable by scripts, never
    sent by another site's page)."""
    attributes = f"; Max-Age={COOKIE_DAYS * 86400}; Path=/; HttpOnly; SameSite=Strict"
    return f"{COOKIE}={token}{attributes}{'; Secure' if secure else ''}"


def usable(token: str) -> bool:
    """A token the cookie can carry unchanged: printable ASCII without spaces, `;`, `,`, quotes
    or backslashes, at least 16 characters."""
    return len(token) >= 16 and all(33 <= ord(c) <= 126 and c not in ';,"\\' for c in token)


LOGIN = """<section><h2>Sign in</h2><p>This dashboard needs the daemon's token (the file named by
<code>http_token_file</code> in its config).</p>
<form class="filter" method="get" action="{action}"><label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Open</button></form>
<p class="muted">The token is kept as an HttpOnly cookie of this site for {days} days.</p>
</section>"""


def login_form(action: str, wrong: bool) -> str:
    note = '<p class="empty">That token is not the daemon\'s.</p>' if wrong else ""
    return note + LOGIN.format(action=action, days=COOKIE_DAYS)
