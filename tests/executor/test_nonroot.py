"""runAsNonRoot without runAsUser: the image's USER decides, as in the kubelet; the refusal is
the pod's CreateContainerConfigError with the container's name, and an unreadable image too."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.executor import errors, nonroot
from reconciler.model import base, hoststate, security


class Images:
    def __init__(self, users: dict[str, str | None]) -> None:
        self.users = users
        self.asked: list[str] = []

    def inspect_image(self, image: str) -> dict[str, Any] | None:
        self.asked.append(image)
        user = self.users[image]
        if user == "fail":
            raise errors.OperationFailed("inspect image", "no such image")
        return {"Config": {"User": user}} if user is not None else {"Config": {}}


def run(image: str, verify: bool = True, init: str = "") -> hoststate.PodRun:
    checked = security.Effective(verify_non_root=verify)
    app = hoststate.ContainerRun("app", image, security=checked)
    inits = (hoststate.ContainerRun("setup", init, security=checked),) if init else ()
    return hoststate.PodRun("shop", "web-0", "h1", "x", base.FrozenMap(), (app,),
                            init_containers=inits)  # fmt: skip


@pytest.mark.parametrize(
    ("user", "words"),
    [
        (None, "image will run as root"),
        ("", "image will run as root"),
        ("0", "image will run as root"),
        ("0:1000", "image will run as root"),
        ("nginx", "image has non-numeric user (nginx), cannot verify user is non-root"),
    ],
)
def test_an_image_that_runs_as_root_is_refused(user: str | None, words: str) -> None:
    with pytest.raises(errors.InvalidRun) as caught:
        nonroot.check(Images({"img": user}), run("img"))
    message = str(caught.value)
    assert "CreateContainerConfigError: container has runAsNonRoot and " + words in message
    assert "(container app)" in message and "h1" in message


@pytest.mark.parametrize("user", ["1000", "1000:1000", "65534:nogroup"])
def test_a_numeric_non_zero_user_passes(user: str) -> None:
    images = Images({"img": user})
    nonroot.check(images, run("img"))
    assert images.asked == ["img"]


def test_nothing_is_read_without_runasnonroot() -> None:
    images = Images({})
    nonroot.check(images, run("img", verify=False))
    assert images.asked == []


def test_init_containers_are_checked_first_and_an_unreadable_image_is_a_refusal() -> None:
    with pytest.raises(errors.InvalidRun, match="cannot read the USER of image 'init'"):
        nonroot.check(Images({"init": "fail", "img": "1000"}), run("img", init="init"))
    with pytest.raises(errors.InvalidRun, match=r"\(container setup\)"):
        nonroot.check(Images({"init": "", "img": "1000"}), run("img", init="init"))
