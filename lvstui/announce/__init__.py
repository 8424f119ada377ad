"""How a VIP reaches the network beyond VRRP: the engine decides whether a VIP is announced
(decide.py, pure), a driver hands that decision to the site's routing daemon (kernel_table.py:
routes in a dedicated kernel table that BIRD or FRR export). lvstui never speaks BGP itself."""
