"""The static pages' address: beside the API locally, on their own origin (CloudFront) in the cloud."""

from __future__ import annotations

from chalicelib.core.config import Settings


def test_pages_sit_beside_the_api_unless_the_site_has_its_own_address() -> None:
    local = Settings(public_base_url="http://localhost:8000/")
    assert local.site_url("/l/") == "http://localhost:8000/l/"
    cloud = Settings(public_base_url="https://api.example.cn", site_base_url="https://d123.cloudfront.net/")
    assert cloud.site_url("/unsubscribe.html?t=x") == "https://d123.cloudfront.net/unsubscribe.html?t=x"
