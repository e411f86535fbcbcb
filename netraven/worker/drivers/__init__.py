"""How jobs talk to devices: ICMP echo (:mod:`.icmp`) and SSH (:mod:`.ssh`, netmiko when installed).

Drivers raise or return plain values; the jobs turn them into results.
"""
