# A private network and subnet for Leximind's nodes, routed to the external network.

variable "name" {
  description = "Prefix of the resources' names."
  type        = string
}

variable "external_network" {
  description = "Name of the external (provider) network the router's gateway is on."
  type        = string
}

variable "subnet_cidr" {
  description = "CIDR of the private subnet."
  type        = string
}

variable "dns_nameservers" {
  description = "DNS servers handed out by DHCP."
  type        = list(string)
}

data "openstack_networking_network_v2" "external" {
  name     = var.external_network
  external = true
}

resource "openstack_networking_network_v2" "private" {
  name           = "${var.name}-net"
  admin_state_up = true
}

resource "openstack_networking_subnet_v2" "private" {
  name            = "${var.name}-subnet"
  network_id      = openstack_networking_network_v2.private.id
  cidr            = var.subnet_cidr
  ip_version      = 4
  dns_nameservers = var.dns_nameservers
}

resource "openstack_networking_router_v2" "gateway" {
  name                = "${var.name}-router"
  admin_state_up      = true
  external_network_id = data.openstack_networking_network_v2.external.id
}

resource "openstack_networking_router_interface_v2" "private" {
  router_id = openstack_networking_router_v2.gateway.id
  subnet_id = openstack_networking_subnet_v2.private.id
}

output "network_id" {
  description = "ID of the private network."
  value       = openstack_networking_network_v2.private.id
}

output "subnet_id" {
  description = "ID of the private subnet; depends on the router interface, so nodes get a route out."
  value       = openstack_networking_subnet_v2.private.id
  depends_on  = [openstack_networking_router_interface_v2.private]
}
