# One Leximind node: an instance on the private network, a block storage volume attached at
# boot (cloud-init makes it Docker's data root), and a floating IP on its port.

variable "name" {
  description = "Name of the instance; the volume and port are named after it."
  type        = string
}

variable "flavor" {
  description = "Compute flavor."
  type        = string
}

variable "image_name" {
  description = "Boot image name."
  type        = string
}

variable "keypair" {
  description = "Name of the SSH keypair."
  type        = string
}

variable "network_id" {
  description = "Private network."
  type        = string
}

variable "subnet_id" {
  description = "Private subnet the node's port gets its address on."
  type        = string
}

variable "security_groups" {
  description = "Names of the security groups of the node's port."
  type        = list(string)
}

variable "external_network" {
  description = "Pool of the floating IP."
  type        = string
}

variable "volume_size" {
  description = "GiB of the data volume."
  type        = number

  validation {
    condition     = var.volume_size >= 20
    error_message = "volume_size must be at least 20 GiB."
  }
}

variable "volume_type" {
  description = "Volume type; null for the cloud's default."
  type        = string
  default     = null
}

variable "cloud_init_template" {
  description = "Path of the cloud-init template (templatefile)."
  type        = string
}

variable "cloud_init_vars" {
  description = "The template's variables; data_volume_id is added here."
  type        = any
  sensitive   = true
}

data "openstack_images_image_v2" "boot" {
  name        = var.image_name
  most_recent = true
}

data "openstack_networking_secgroup_v2" "groups" {
  for_each = toset(var.security_groups)
  name     = each.value
}

resource "openstack_networking_port_v2" "node" {
  name               = "${var.name}-port"
  network_id         = var.network_id
  admin_state_up     = true
  security_group_ids = [for g in data.openstack_networking_secgroup_v2.groups : g.id]

  fixed_ip {
    subnet_id = var.subnet_id
  }
}

resource "openstack_blockstorage_volume_v3" "data" {
  name        = "${var.name}-data"
  description = "Docker data root of ${var.name}: indexes, objects, models"
  size        = var.volume_size
  volume_type = var.volume_type
}

resource "openstack_compute_instance_v2" "node" {
  name        = var.name
  flavor_name = var.flavor
  key_pair    = var.keypair
  # cloud-init finds the volume as /dev/disk/by-id/virtio-<first 20 characters of its id>.
  user_data = templatefile(var.cloud_init_template, merge(var.cloud_init_vars, {
    data_volume_id = openstack_blockstorage_volume_v3.data.id
  }))

  block_device {
    uuid                  = data.openstack_images_image_v2.boot.id
    source_type           = "image"
    destination_type      = "local"
    boot_index            = 0
    delete_on_termination = true
  }

  # Attached at boot, so cloud-init finds it; kept when the instance is rebuilt or destroyed.
  block_device {
    uuid                  = openstack_blockstorage_volume_v3.data.id
    source_type           = "volume"
    destination_type      = "volume"
    boot_index            = -1
    delete_on_termination = false
  }

  network {
    port = openstack_networking_port_v2.node.id
  }

  lifecycle {
    # A changed cloud-init must not replace a node that holds data; re-run it by hand.
    ignore_changes = [user_data]
  }
}

resource "openstack_networking_floatingip_v2" "node" {
  pool        = var.external_network
  description = "${var.name} public address"
}

resource "openstack_networking_floatingip_associate_v2" "node" {
  floating_ip = openstack_networking_floatingip_v2.node.address
  port_id     = openstack_networking_port_v2.node.id
}

output "id" {
  description = "Instance ID."
  value       = openstack_compute_instance_v2.node.id
}

output "private_ip" {
  description = "Address on the private network."
  value       = openstack_networking_port_v2.node.all_fixed_ips[0]
}

output "floating_ip" {
  description = "Public address."
  value       = openstack_networking_floatingip_v2.node.address
}

output "volume_id" {
  description = "ID of the data volume."
  value       = openstack_blockstorage_volume_v3.data.id
}
