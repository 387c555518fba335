output "app_floating_ip" {
  description = "Public address of the app VM: point SITE_ADDRESS's DNS name here."
  value       = module.app_node.floating_ip
}

output "gpu_floating_ip" {
  description = "Public address of the GPU node (SSH from admin_cidrs only)."
  value       = module.gpu_node.floating_ip
}

output "gpu_private_ip" {
  description = "Private address the app VM reaches vLLM on."
  value       = module.gpu_node.private_ip
}

output "model_server_url" {
  description = "LEXIMIND_LLM__BASE_URL as the app VM's stack uses it."
  value       = "http://${module.gpu_node.private_ip}:${local.vllm_port}/v1"
}

output "volume_ids" {
  description = "Block storage volumes: Docker's data root on each node."
  value = {
    app = module.app_node.volume_id
    gpu = module.gpu_node.volume_id
  }
}

output "ssh" {
  description = "How to reach each node (Ubuntu images' default user)."
  value = {
    app = "ssh ubuntu@${module.app_node.floating_ip}"
    gpu = "ssh ubuntu@${module.gpu_node.floating_ip}"
  }
}
