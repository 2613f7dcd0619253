"""Uploaded photos: type and size checked, re-encoded without metadata so that EXIF (GPS position, device)
never reaches storage. Every app that accepts images calls `image_clean`."""

import io
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from gongzhi.core.exceptions import ServiceError

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000


def image_clean(upload: UploadedFile) -> ContentFile:
    """Returns a new file holding only the pixels; raises ServiceError for anything that is not a photo."""
    if upload.size > MAX_IMAGE_BYTES:
        raise ServiceError(_("A photo may be at most 10 MB."))
    try:
        with Image.open(upload) as image:
            if image.format not in ALLOWED_FORMATS or image.width * image.height > MAX_PIXELS:
                raise ServiceError(_("Upload a JPEG, PNG or WebP photo."))
            image.load()
            # Apply the EXIF orientation to the pixels before the EXIF block is dropped.
            upright = ImageOps.exif_transpose(image)
            image_format = image.format
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ServiceError(_("Upload a JPEG, PNG or WebP photo.")) from None
    if upright.mode not in ("RGB", "RGBA", "L"):
        upright = upright.convert("RGBA" if image_format != "JPEG" else "RGB")
    # A fresh image from the raw pixels carries no EXIF, XMP or other metadata at all.
    pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())
    buffer = io.BytesIO()
    pixels.save(buffer, format=image_format, **({"quality": 88} if image_format == "JPEG" else {}))
    name = f"{Path(upload.name or 'photo').stem}.{ALLOWED_FORMATS[image_format]}"
    return ContentFile(buffer.getvalue(), name=name)
