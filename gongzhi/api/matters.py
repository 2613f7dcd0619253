"""The matters router (being built)."""

from ninja import Router

router = Router()
