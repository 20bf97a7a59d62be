"""The system under test, described by an app profile; the demo app is one profile among others."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.app import images
from harness.app.images import LocalImages
from harness.app.profile import BROKEN, Profile, load_profile
from harness.build import ImageBuilder
from harness.shipped import DEMO_PROFILE

DEFAULT_PROFILE = DEMO_PROFILE  # what runs when no --app is given

__all__ = ["BROKEN", "DEFAULT_PROFILE", "App", "Profile", "load_profile"]


@dataclass(frozen=True)
class App:
    """A validated profile and the local images of its releases, ready to be pushed to a cluster."""

    profile: Profile
    images: LocalImages

    @classmethod
    def prepare(cls, profile: Profile, builder: ImageBuilder, releases: Iterable[str] = ()) -> App:
        """Find or build every image; synthesise the broken release when ``releases`` asks for it.

        ``releases`` are the scenarios' ``from``/``to`` values; each is checked
        against the profile here, before anything starts.
        """
        wanted = {profile.release_name(name) for name in releases}
        broken_from = profile.release_name("new") if BROKEN in wanted else None
        return cls(profile, images.prepare(profile, builder, broken_from))

    def push(self, push_one: Callable[[str, str, str], object]) -> None:
        """Push every image into the cluster's registry (what it holds already is skipped)."""
        images.push(self.images, push_one)
