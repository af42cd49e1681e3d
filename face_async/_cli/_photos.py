"""The photos folder of ``face-async enroll``: PHOTOS_DIR/<person name>/<image>.

Scanned before anything is sent, so that an empty folder or a folder of loose photos is refused
(no group is created for nothing), and every file that is not enrolled is named with why.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from face_async._cli._exit import UsageError
from face_async._enroll import IMAGE_SUFFIXES

__all__ = ["PhotoScan", "scan_photos"]

_SUFFIXES = "/".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
NOT_IMAGE = f"not a {_SUFFIXES} file"
LOOSE = "not in a person folder"
NESTED = "a folder inside a person folder (not read)"


@attrs.frozen(kw_only=True)
class PhotoScan:
    """Persons and their images (sorted), and the files and folders left out with why."""

    root: Path
    persons: dict[str, list[Path]]
    skipped: list[tuple[str, str]]

    @property
    def images(self) -> int:
        """How many images will be enrolled."""
        return sum(len(images) for images in self.persons.values())


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def scan_photos(root: Path) -> PhotoScan:
    """Scan PHOTOS_DIR (blocking); raises UsageError when there is nothing to enroll."""
    if not root.is_dir():
        raise UsageError(f"{os.fspath(root)!r} is not a directory")
    persons: dict[str, list[Path]] = {}
    skipped: list[tuple[str, str]] = []
    loose_images = 0
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue  # .DS_Store, .git, the journal: never photos
        if entry.is_dir():
            images: list[Path] = []
            for item in sorted(entry.iterdir()):
                if item.name.startswith("."):
                    continue
                relative = f"{entry.name}/{item.name}"
                if item.is_dir():
                    skipped.append((relative + "/", NESTED))
                elif _is_image(item):
                    images.append(item)
                else:
                    skipped.append((relative, NOT_IMAGE))
            if images:
                persons[entry.name] = images
        else:
            loose_images += _is_image(entry)
            skipped.append((entry.name, LOOSE if _is_image(entry) else NOT_IMAGE))
    if not persons:
        layout = (
            f"expected {os.fspath(root)}/<person name>/<photo>.{{{_SUFFIXES.replace('/', ',')}}}"
        )
        if loose_images:
            raise UsageError(
                f"{os.fspath(root)!r} holds {loose_images} photos but no person folders; "
                "nothing was sent",
                hint=f"put each person's photos in a folder named after them: {layout}",
            )
        raise UsageError(
            f"no photos to enroll in {os.fspath(root)!r} ({len(skipped)} other files); "
            "nothing was sent",
            hint=layout,
        )
    return PhotoScan(root=root, persons=persons, skipped=skipped)
