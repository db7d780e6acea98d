"""A local stand-in for WeCom, the WeChat official account and the mini program (docs/wechat-local.md)."""
