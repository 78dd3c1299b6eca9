"""`imagePullSecrets`: registry matching as the kubelet does it (model.registryauth), the pull
Secrets read into logins (plan.pullsecrets) and resolution errors naming the field, never a value.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import base, objects, registryauth
from reconciler.plan import expand, pipeline, pullsecrets, refs, resolve
from reconciler.runtime import logs

from . import builders as b

PASSWORD = "hunter2-very-secret"
REGISTRY = "198.18.0.1:5001"


def _login(key: str, secret: str = "pull") -> registryauth.RegistryCredential:
    return registryauth.RegistryCredential(key, secret, "user", PASSWORD)


def _pull_secret(
    name: str = "pull",
    auths: dict[str, object] | None = None,
    kind: str = pullsecrets.DOCKER_CONFIG_JSON,
    raw: bytes | None = None,
) -> objects.Secret:
    entries = auths if auths is not None else {
        REGISTRY: {"auth": base64.b64encode(f"puller:{PASSWORD}".encode()).decode()}
    }  # fmt: skip
    key = pullsecrets.KEYS.get(kind, ".dockerconfigjson")
    body = {"auths": entries} if kind == pullsecrets.DOCKER_CONFIG_JSON else entries
    data = raw if raw is not None else json.dumps(body).encode()
    meta = base.ObjectMeta(name=name, namespace="default")
    return objects.Secret(meta, base.FrozenMap({key: data}), kind)


# -- image references ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "host", "path"),
    [
        ("busybox", "docker.io", "library/busybox"),
        ("busybox:1.36", "docker.io", "library/busybox"),
        ("team/app:2", "docker.io", "team/app"),
        ("index.docker.io/team/app", "docker.io", "team/app"),
        ("198.18.0.1:5001/private/busybox:v1", "198.18.0.1:5001", "private/busybox"),
        ("Reg.Example.com/a/b/c@sha256:abc", "reg.example.com", "a/b/c"),
        ("localhost/app:1", "localhost", "app"),
    ],
)
def test_image_location_like_docker(image: str, host: str, path: str) -> None:
    assert registryauth.image_location(image) == registryauth.Location(host, path)


@pytest.mark.parametrize(
    ("key", "image", "expected"),
    [
        ("198.18.0.1:5001", "198.18.0.1:5001/private/busybox:v1", True),
        ("http://198.18.0.1:5001/", "198.18.0.1:5001/private/busybox:v1", True),
        ("198.18.0.1", "198.18.0.1:5001/private/busybox:v1", False),  # ports must be equal
        ("198.18.0.1:5000", "198.18.0.1:5001/private/busybox:v1", False),
        ("https://index.docker.io/v1/", "busybox", True),  # Docker Hub aliases
        ("docker.io", "registry-1.docker.io/library/busybox", True),
        ("docker.io", "quay.io/busybox", False),
        ("*.example.com", "reg.example.com/app", True),
        ("*.example.com", "a.reg.example.com/app", False),  # one label per glob
        ("reg.example.com/team", "reg.example.com/team/app", True),  # path prefix
        ("reg.example.com/team", "reg.example.com/teamx/app", False),  # whole components
        ("reg.example.com/team/app", "reg.example.com/team", False),
    ],
)
def test_registry_keys_match_as_the_kubelet_does(key: str, image: str, expected: bool) -> None:
    where = registryauth.image_location(image)
    assert registryauth.matches(registryauth.registry_key(key), where) is expected


def test_candidates_most_specific_first_then_in_secret_order() -> None:
    logins = (
        _login("reg.io", "a"),
        _login("*.io", "glob"),
        _login("reg.io/team", "b"),
        _login("reg.io", "c"),
        _login("other.io", "d"),
    )
    found = registryauth.candidates(logins, "reg.io/team/app:1")
    assert [c.secret for c in found] == ["b", "a", "c", "glob"]
    assert registryauth.candidates(logins, "quay.example.com/x") == ()


def test_a_credential_repr_shows_no_value() -> None:
    login = _login(REGISTRY)
    assert PASSWORD not in repr(login) and "user" not in repr(login).split("secret=")[1]


# -- Secrets to logins --------------------------------------------------------------------------


def test_dockerconfigjson_auth_field_is_decoded() -> None:
    (login,) = pullsecrets.secret_credentials(_pull_secret(), "spec.imagePullSecrets[0]")
    assert (login.registry, login.secret, login.username, login.password) == (
        REGISTRY, "pull", "puller", PASSWORD)  # fmt: skip


def test_dockercfg_and_separate_username_password() -> None:
    secret = _pull_secret(
        auths={"reg.io": {"username": "u", "password": PASSWORD, "email": "x@y"}},
        kind=pullsecrets.DOCKER_CFG,
    )
    (login,) = pullsecrets.secret_credentials(secret, "p")
    assert (login.username, login.password) == ("u", PASSWORD)


def test_auth_wins_over_the_separate_fields() -> None:
    auth = base64.b64encode(b"from-auth:pw-from-auth").decode()
    secret = _pull_secret(auths={"reg.io": {"auth": auth, "username": "u", "password": "p"}})
    (login,) = pullsecrets.secret_credentials(secret, "p")
    assert (login.username, login.password) == ("from-auth", "pw-from-auth")


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        (_pull_secret(kind="Opaque"), "has type Opaque"),
        (_pull_secret(raw=b"{not json " + PASSWORD.encode()), "is not JSON"),
        (_pull_secret(raw=json.dumps({"auths": [PASSWORD]}).encode()), "is not JSON"),
        (_pull_secret(auths={"reg.io": {"auth": PASSWORD}}), "no username/password"),
        (_pull_secret(auths={"reg.io": PASSWORD}), "no username/password"),
    ],
)
def test_unreadable_pull_secrets_are_refused_without_values(
    secret: objects.Secret, words: str
) -> None:
    with pytest.raises(refs.ResolveError) as caught:
        pullsecrets.secret_credentials(secret, "spec.imagePullSecrets[0]")
    assert words in caught.value.message
    assert caught.value.path == "spec.imagePullSecrets[0].name"
    assert PASSWORD not in str(caught.value) + caught.value.hint


def test_sensitive_values_are_every_form_of_the_password() -> None:
    values = pullsecrets.sensitive_values(_pull_secret())
    assert PASSWORD in values
    assert base64.b64encode(f"puller:{PASSWORD}".encode()).decode() in values


# -- resolution ---------------------------------------------------------------------------------


def _resolve(spec_secrets: tuple[str, ...], *extra: objects.Object) -> resolve.ResolvedPod:
    pod_spec = b.spec(b.container(image=f"{REGISTRY}/private/busybox:v1"),
                      image_pull_secrets=spec_secrets)  # fmt: skip
    (pod,) = expand.expand(b.state(b.pod("p", pod_spec)), ())
    return resolve.resolve(pod, b.state(*extra), resolve.Policy())


def test_resolved_pod_carries_the_logins_of_its_secrets_in_order() -> None:
    other = _pull_secret("other", auths={"quay.io": {"username": "q", "password": "qq-pw"}})
    resolved = _resolve(("pull", "other"), _pull_secret(), other)
    assert [c.secret for c in resolved.pull_credentials] == ["pull", "other"]
    assert PASSWORD not in repr(resolved)


def test_a_missing_pull_secret_is_left_out_as_the_kubelet_does() -> None:
    with_absent = _resolve(("absent", "pull"), _pull_secret()).pull_credentials
    assert with_absent == _resolve(("pull",), _pull_secret()).pull_credentials
    assert [c.secret for c in with_absent] == ["pull"]


def test_logins_are_on_the_pod_run_but_not_in_its_hash_or_repr() -> None:
    pod_spec = b.spec(b.container(image=f"{REGISTRY}/private/busybox:v1"),
                      image_pull_secrets=("pull",))  # fmt: skip
    up = b.observations("h1")
    first = pipeline.build_plan(b.state(b.host("h1"), b.pod("p", pod_spec), _pull_secret()),
                                up, "r1")  # fmt: skip
    changed = _pull_secret(auths={REGISTRY: {"username": "puller", "password": "new-pw-123"}})
    second = pipeline.build_plan(b.state(b.host("h1"), b.pod("p", pod_spec), changed), up, "r1")
    (one,), (two,) = first.plan.actions, second.plan.actions
    assert one.run is not None and two.run is not None
    assert one.run.pull_credentials[0].password == PASSWORD
    assert one.run.spec_hash == two.run.spec_hash  # a new login recreates no pod
    assert PASSWORD not in repr(one)


def test_validate_reports_a_missing_pull_secret_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  imagePullSecrets:\n"
        "    - name: regcred\n  containers:\n    - name: app\n      image: reg.io/app:1\n"
    )
    loaded = loader.load_repository(tmp_path)
    (warning,) = loaded.diagnostics
    assert loaded.ok and (warning.line, warning.path) == (7, "spec.imagePullSecrets[0].name")
    assert "Secret default/regcred does not exist: images are pulled without it" in warning.message


def test_the_log_redactor_hides_the_password_inside_a_pull_secret() -> None:
    redactor = logs.Redactor()
    secret = _pull_secret()
    for value in secret.data.values():  # what the daemon registers for every Secret
        redactor.register(value)
    line = f"pull failed: password {PASSWORD} in a message"
    assert PASSWORD in redactor(line)  # the whole JSON value alone does not hide it
    for part in pullsecrets.sensitive_values(secret):
        redactor.register(part)
    assert PASSWORD not in redactor(line) and "<redacted>" in redactor(line)
