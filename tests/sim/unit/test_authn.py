"""ServiceAccount tokens: signed, expiring in simulated time, bound to the account's uid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tend_sim.authn import Auth
from tend_sim.store import Store


def test_tokens_expire_are_tamper_proof_and_die_with_their_account() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = Store(now=lambda: now[0])
    sa = store.resource("serviceaccounts")
    auth = Auth(store, enabled=True)
    token, expires = auth.token_for("default", "default", expiration_seconds=600)
    assert expires == now[0] + timedelta(seconds=600)
    user = auth.token_user(token)
    assert user is not None and user.name == "system:serviceaccount:default:default"
    head, body, sig = token.split(".")
    assert auth.token_user(f"{head}.{body}.{sig[::-1]}") is None
    assert auth.token_user(f"{head}.{body[:-2]}.{sig}") is None
    assert Auth(store).token_user(token) is None  # another cluster's key
    now[0] += timedelta(seconds=599)
    assert auth.token_user(token) is not None
    now[0] += timedelta(seconds=1)
    assert auth.token_user(token) is None
    fresh, _ = auth.token_for("default", "default")
    store.delete(sa, "default", "default")
    store.create(sa, {"metadata": {"name": "default", "namespace": "default"}})
    assert auth.token_user(fresh) is None  # same name, new uid: the old token is invalid
