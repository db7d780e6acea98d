"""Campaigns: the lifecycle, the live-campaign cache, templates, compliance and cost simulation."""
