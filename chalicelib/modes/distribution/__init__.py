"""Distribution (分销): orders from the merchant's shop, commission on them and clawback on refund."""
