"""The simulated vendors' endpoints: storefronts and marketplace (channels), and the services a
business buys (payments, labels, tax, fulfilment)."""
