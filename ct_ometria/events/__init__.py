"""Near-real-time events: commercetools messages, cart activity and storefront signals."""
