# Security groups with only the ports Leximind needs.
#
# app VM: SSH and the admin UIs from admin_cidrs; HTTP/HTTPS from anywhere (Slack, GitHub and
#         Discord users reach the API through Caddy).
# GPU node: SSH from admin_cidrs; vLLM's port (API and /metrics) only from the app VM's group.
# Egress stays open (the provider's default rules): images, models and package installs.

variable "name" {
  description = "Prefix of the groups' names."
  type        = string
}

variable "admin_cidrs" {
  description = "Addresses allowed to SSH and to open the admin UIs."
  type        = list(string)
}

variable "vllm_port" {
  description = "Port of vLLM's OpenAI-compatible API and metrics on the GPU node."
  type        = number
}

locals {
  # Grafana, Label Studio, MLflow, MinIO console, Prometheus (ops/deploy/.env.example ports).
  admin_ports  = { grafana = 3000, label_studio = 8080, mlflow = 5000, minio_console = 9001, prometheus = 9090 }
  public_ports = { http = 80, https = 443 }
  admin_rules = merge(
    { for pair in setproduct(keys(local.admin_ports), var.admin_cidrs) : "${pair[0]}-${pair[1]}" => {
      port = local.admin_ports[pair[0]]
      cidr = pair[1]
    } },
    { for cidr in var.admin_cidrs : "ssh-${cidr}" => { port = 22, cidr = cidr } },
  )
}

resource "openstack_networking_secgroup_v2" "app" {
  name        = "${var.name}-app"
  description = "Leximind app VM: public HTTP(S), admin UIs and SSH from admin addresses"
}

resource "openstack_networking_secgroup_v2" "gpu" {
  name        = "${var.name}-gpu"
  description = "Leximind GPU node: vLLM from the app VM, SSH from admin addresses"
}

resource "openstack_networking_secgroup_rule_v2" "app_public" {
  for_each = local.public_ports

  security_group_id = openstack_networking_secgroup_v2.app.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = each.value
  port_range_max    = each.value
  remote_ip_prefix  = "0.0.0.0/0"
}

resource "openstack_networking_secgroup_rule_v2" "app_admin" {
  for_each = local.admin_rules

  security_group_id = openstack_networking_secgroup_v2.app.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = each.value.port
  port_range_max    = each.value.port
  remote_ip_prefix  = each.value.cidr
}

resource "openstack_networking_secgroup_rule_v2" "gpu_ssh" {
  for_each = toset(var.admin_cidrs)

  security_group_id = openstack_networking_secgroup_v2.gpu.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = 22
  port_range_max    = 22
  remote_ip_prefix  = each.value
}

resource "openstack_networking_secgroup_rule_v2" "gpu_vllm_from_app" {
  security_group_id = openstack_networking_secgroup_v2.gpu.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = var.vllm_port
  port_range_max    = var.vllm_port
  remote_group_id   = openstack_networking_secgroup_v2.app.id
}

output "app_group_name" {
  description = "Security group of the app VM."
  value       = openstack_networking_secgroup_v2.app.name
}

output "gpu_group_name" {
  description = "Security group of the GPU node."
  value       = openstack_networking_secgroup_v2.gpu.name
}
