"""WeChat and WeCom: tenant credentials, access tokens and tickets, callback crypto (docs/wechat.md)."""
