"""Reading commercetools: the HTTP client and the models of what we read."""

from ct_ometria.commercetools.client import CommercetoolsClient, modified_window_predicate

__all__ = ["CommercetoolsClient", "modified_window_predicate"]
