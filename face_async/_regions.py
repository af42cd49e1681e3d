"""The Face API v1.0 regions (the region list of the Add Face documentation page)."""

from __future__ import annotations

__all__ = ["REGIONS", "region_url"]

#: Region name -> endpoint host, as listed on the PersonGroup Person - Add Face page.
REGIONS: dict[str, str] = {
    "australiaeast": "australiaeast.api.cognitive.microsoft.com",  # Australia East
    "brazilsouth": "brazilsouth.api.cognitive.microsoft.com",  # Brazil South
    "canadacentral": "canadacentral.api.cognitive.microsoft.com",  # Canada Central
    "centralindia": "centralindia.api.cognitive.microsoft.com",  # Central India
    "centralus": "centralus.api.cognitive.microsoft.com",  # Central US
    "eastasia": "eastasia.api.cognitive.microsoft.com",  # East Asia
    "eastus": "eastus.api.cognitive.microsoft.com",  # East US
    "eastus2": "eastus2.api.cognitive.microsoft.com",  # East US 2
    "francecentral": "francecentral.api.cognitive.microsoft.com",  # France Central
    "germanywestcentral": "germanywestcentral.api.cognitive.microsoft.com",  # Germany West Central
    "italynorth": "italynorth.api.cognitive.microsoft.com",  # Italy North
    "japaneast": "japaneast.api.cognitive.microsoft.com",  # Japan East
    "japanwest": "japanwest.api.cognitive.microsoft.com",  # Japan West
    "jioindiawest": "jioindiawest.api.cognitive.microsoft.com",  # Jio India West
    "koreacentral": "koreacentral.api.cognitive.microsoft.com",  # Korea Central
    "northcentralus": "northcentralus.api.cognitive.microsoft.com",  # North Central US
    "northeurope": "northeurope.api.cognitive.microsoft.com",  # North Europe
    "norwayeast": "norwayeast.api.cognitive.microsoft.com",  # Norway East
    "qatarcentral": "qatarcentral.api.cognitive.microsoft.com",  # Qatar Central
    "southafricanorth": "southafricanorth.api.cognitive.microsoft.com",  # South Africa North
    "southcentralus": "southcentralus.api.cognitive.microsoft.com",  # South Central US
    "southeastasia": "southeastasia.api.cognitive.microsoft.com",  # Southeast Asia
    "swedencentral": "swedencentral.api.cognitive.microsoft.com",  # Sweden Central
    "switzerlandnorth": "switzerlandnorth.api.cognitive.microsoft.com",  # Switzerland North
    "switzerlandwest": "switzerlandwest.api.cognitive.microsoft.com",  # Switzerland West
    "uaenorth": "uaenorth.api.cognitive.microsoft.com",  # UAE North
    "uksouth": "uksouth.api.cognitive.microsoft.com",  # UK South
    "westcentralus": "westcentralus.api.cognitive.microsoft.com",  # West Central US
    "westeurope": "westeurope.api.cognitive.microsoft.com",  # West Europe
    "westus": "westus.api.cognitive.microsoft.com",  # West US
    "westus2": "westus2.api.cognitive.microsoft.com",  # West US 2
    "westus3": "westus3.api.cognitive.microsoft.com",  # West US 3
}


def region_url(name: str) -> str | None:
    """``https://{host}`` for a region name ("westus", "West US"); None if unknown."""
    host = REGIONS.get(name.replace(" ", "").lower())
    return None if host is None else f"https://{host}"
