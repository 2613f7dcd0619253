"""Small formatting helpers for templates, written as tags rather than {% include %}s: a list page renders
them once per row, and an include costs a template lookup and a context push each time."""

from django import template
from django.utils.html import format_html_join

register = template.Library()


@register.simple_tag
def tag_badges(tags) -> str:
    """Resident tags as badges; the sensitive ones marked so that they stand out to those who may see them."""
    return format_html_join(
        "",
        '<span class="tag{}">{}</span>',
        ((" sensitive" if tag.is_sensitive else "", tag.get_tag_display()) for tag in tags),
    )
