"""`lvstui demo`: real HTTP servers on loopback and the configuration that balances them."""
