"""The Settings window, and the local API that its Local API tab switches on and off."""
