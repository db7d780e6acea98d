"""Settings from the environment, read on first use (never at import)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Stage = Literal["local", "test", "dev", "prod"]


class Settings(BaseSettings):
    """Runtime configuration. Every field has a safe default for the local stack."""

    model_config = SettingsConfigDict(env_prefix="FISSION_", extra="ignore")

    stage: Stage = "local"
    table_name: str = "fission"
    region: str = "us-east-1"
    # DynamoDB Local endpoint; empty in the cloud.
    dynamodb_endpoint: str | None = None
    # Where local secrets (PII key, token key) live in dev; created on first use.
    secrets_dir: Path = Path(".data/secrets")
    # KMS key for PII envelope encryption and the token signing secret in the cloud.
    kms_key_id: str | None = None
    # The audit chain's MAC key: a KMS HMAC key in the cloud (the API's role may only generate and verify
    # MACs with it), else a key file created 0600 on first use (default: audit-mac.key in secrets_dir).
    audit_mac_key_id: str | None = None
    audit_key_file: Path | None = None
    # Where the audit heads are anchored outside the table: an S3 bucket with Object Lock in the cloud,
    # an append-only JSON-lines file locally (used when no bucket is set).
    audit_anchor_bucket: str | None = None
    audit_anchor_file: Path = Path(".data/audit-anchors.jsonl")
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    max_body_bytes: int = 64 * 1024
    public_base_url: str = "http://localhost:8000"
    # Where the static pages (web/: landing pages, console, unsubscribe) are served, when not beside the API
    # (a cloud deployment serves them from CloudFront); invite redirects and unsubscribe links point there.
    site_base_url: str | None = None
    # Rendered posters: an S3 bucket in the cloud, a folder locally (used when no bucket is set).
    poster_bucket: str | None = None
    poster_cache_dir: Path = Path(".data/posters")
    # CSV exports: an S3 bucket in the cloud, a folder locally (used when no bucket is set).
    export_bucket: str | None = None
    export_dir: Path = Path(".data/exports")
    avatar_timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    avatar_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=20 * 1024 * 1024)
    # Public-route rate limits: "on" (the defaults in http/rules.py), "off", or overrides such as
    # "join.ip=60/min,join.device=0/min". Unset means on, except in the test stage (tests and bench/).
    rate_limits: str | None = None
    # A container writes a subject's count after this many requests (or a tenth of the limit, if more),
    # or when the oldest is this old (per minute of window: a day window waits 1440 times longer).
    rate_limit_flush_threshold: int = Field(default=20, ge=1, le=1000)
    rate_limit_flush_seconds: float = Field(default=3.0, gt=0, le=60)
    # Proxies whose X-Forwarded-For is believed, as comma-separated CIDRs ("10.0.0.0/8,2001:db8::/32").
    # None by default: the connection's source address is the client's (http/addresses.py).
    trusted_proxies: str = ""
    # The WeChat and WeCom hosts (docs/wechat.md); every platform URL is `<base> + <documented path>`, so the local
    # stack points them at its stand-in server.
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_open_base: str = "https://open.weixin.qq.com"
    wechat_mp_base: str = "https://mp.weixin.qq.com"
    platform_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # The payout providers' hosts (docs/payouts.md): WeChat Pay's API v3 base (every path is `<base> + /v3/...`)
    # and Alipay's open API gateway. The local stack points them at its fakes (docs/payouts-local.md).
    wechatpay_api_base: str = "https://api.mch.weixin.qq.com"
    alipay_gateway: str = "https://openapi.alipay.com/gateway.do"
    # A payout call that takes longer is abandoned as unknown; the next run asks the provider before resending.
    payout_timeout_seconds: float = Field(default=10.0, gt=0, le=30)

    def site_url(self, path: str) -> str:
        """A URL of the static pages: the site's own base, else the API's (the local stack serves both)."""
        return (self.site_base_url or self.public_base_url).rstrip("/") + path

    @property
    def effective_audit_key_file(self) -> Path:
        return self.audit_key_file or self.secrets_dir / "audit-mac.key"

    @property
    def is_cloud(self) -> bool:
        return self.stage in ("dev", "prod")

    @property
    def effective_rate_limits(self) -> str:
        return self.rate_limits or ("off" if self.stage == "test" else "on")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
