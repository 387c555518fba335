# Leximind on OpenStack: a VM for the API replicas, the bots and the backing services (Weaviate,
# MinIO, Redis, MLflow, Label Studio, Prometheus, Grafana) and a GPU node for vLLM, each with a
# block storage volume, in a private network behind a router, reachable on floating IPs.
# Both nodes run ops/deploy/compose.yaml: the app VM everything but vLLM (profile `no-gpu`: its
# scheduler does not retrain), the GPU node vLLM.

locals {
  vllm_port = 8000

  # The app VM reaches vLLM on the GPU node's private address instead of the `vllm` service.
  app_env = merge(var.stack_env, {
    COMPOSE_PROFILES       = join(",", concat(["no-gpu"], var.app_profiles))
    PUBLISH_ADDRESS        = "0.0.0.0"
    LEXIMIND_LLM__BASE_URL = "http://${module.gpu_node.private_ip}:${local.vllm_port}/v1"
    VLLM_URL               = "http://${module.gpu_node.private_ip}:${local.vllm_port}"
  })
  gpu_env = merge(var.stack_env, {
    COMPOSE_PROFILES = "gpu"
    # vLLM is published on the private address; the security group admits only the app VM.
    PUBLISH_ADDRESS = "0.0.0.0"
    VLLM_PORT       = tostring(local.vllm_port)
  })
}

module "network" {
  source = "./modules/network"

  name             = var.name
  external_network = var.external_network
  subnet_cidr      = var.subnet_cidr
  dns_nameservers  = var.dns_nameservers
}

module "security" {
  source = "./modules/security"

  name        = var.name
  admin_cidrs = var.admin_cidrs
  vllm_port   = local.vllm_port
}

resource "openstack_compute_keypair_v2" "deploy" {
  name       = "${var.name}-deploy"
  public_key = var.ssh_public_key
}

module "gpu_node" {
  source = "./modules/node"

  name                = "${var.name}-gpu"
  flavor              = var.gpu_flavor
  image_name          = var.gpu_image_name
  keypair             = openstack_compute_keypair_v2.deploy.name
  network_id          = module.network.network_id
  subnet_id           = module.network.subnet_id
  security_groups     = [module.security.gpu_group_name]
  external_network    = var.external_network
  volume_size         = var.gpu_volume_size
  volume_type         = var.volume_type
  cloud_init_template = "${path.module}/templates/cloud-init.yaml.tftpl"
  cloud_init_vars = {
    role           = "gpu"
    repository_url = var.repository_url
    repository_ref = var.repository_ref
    env_file       = join("\n", [for k, v in local.gpu_env : "${k}=${v}"])
    services       = ["vllm"]
    vllm_target    = ""
  }
}

module "app_node" {
  source = "./modules/node"

  name                = "${var.name}-app"
  flavor              = var.app_flavor
  image_name          = var.image_name
  keypair             = openstack_compute_keypair_v2.deploy.name
  network_id          = module.network.network_id
  subnet_id           = module.network.subnet_id
  security_groups     = [module.security.app_group_name]
  external_network    = var.external_network
  volume_size         = var.app_volume_size
  volume_type         = var.volume_type
  cloud_init_template = "${path.module}/templates/cloud-init.yaml.tftpl"
  cloud_init_vars = {
    role           = "app"
    repository_url = var.repository_url
    repository_ref = var.repository_ref
    env_file       = join("\n", [for k, v in local.app_env : "${k}=${v}"])
    services       = []
    vllm_target    = "${module.gpu_node.private_ip}:${local.vllm_port}"
  }
}
