"""Pure rules of campaigns: the campaign document per mode, the lifecycle, templates, compliance, costs."""
