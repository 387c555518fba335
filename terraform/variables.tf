variable "cloud" {
  description = "Entry of clouds.yaml holding the OpenStack credentials."
  type        = string
  default     = "openstack"
}

variable "region" {
  description = "OpenStack region; null uses the cloud's default."
  type        = string
  default     = null
}

variable "name" {
  description = "Prefix of every resource's name."
  type        = string
  default     = "leximind"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "external_network" {
  description = "Name of the provider network that floating IPs and the router's gateway come from."
  type        = string
}

variable "subnet_cidr" {
  description = "CIDR of Leximind's private subnet."
  type        = string
  default     = "10.42.0.0/24"
}

variable "dns_nameservers" {
  description = "DNS servers handed out on the private subnet."
  type        = list(string)
  default     = ["1.1.1.1", "9.9.9.9"]
}

variable "admin_cidrs" {
  description = "Addresses allowed to SSH in and to open the admin UIs (Grafana, Label Studio, MLflow, MinIO console, Prometheus)."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0))])
    error_message = "admin_cidrs must be CIDR blocks, e.g. 203.0.113.7/32."
  }
}

variable "ssh_public_key" {
  description = "Public key installed for the image's default user on both nodes."
  type        = string
}

variable "image_name" {
  description = "Ubuntu 24.04 image of the app VM (cloud-init installs Docker from the Ubuntu archive)."
  type        = string
  default     = "Ubuntu-24.04"
}

variable "gpu_image_name" {
  description = "Ubuntu 24.04 image of the GPU node; one with the NVIDIA driver preinstalled saves a reboot."
  type        = string
  default     = "Ubuntu-24.04"
}

variable "app_flavor" {
  description = "Flavor of the VM for the API replicas, bots, Weaviate, MinIO, Redis, MLflow, Label Studio and monitoring."
  type        = string
  default     = "m1.xlarge"
}

variable "gpu_flavor" {
  description = "Flavor of the GPU node for vLLM (and LoRA training)."
  type        = string
  default     = "g1.xlarge"
}

variable "app_volume_size" {
  description = "GiB of block storage for the app VM: Docker's data root, holding the Weaviate index, MinIO's objects, Redis, MLflow and Label Studio."
  type        = number
  default     = 200
}

variable "gpu_volume_size" {
  description = "GiB of block storage for the GPU node: model weights, LoRA adapters and images."
  type        = number
  default     = 300
}

variable "volume_type" {
  description = "Block storage volume type; null uses the cloud's default."
  type        = string
  default     = null
}

variable "repository_url" {
  description = "Git repository cloud-init clones the compose stack from."
  type        = string
  default     = "https://github.com/leximind/leximind.git"
}

variable "repository_ref" {
  description = "Branch or tag of repository_url to deploy."
  type        = string
  default     = "main"
}

variable "app_profiles" {
  description = "Compose profiles of the app VM besides the default services, e.g. [\"discord\"] (vLLM runs on the GPU node)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.app_profiles : contains(["discord"], p)])
    error_message = "app_profiles may only hold \"discord\": the model server runs on the GPU node."
  }
}

variable "stack_env" {
  description = "Variables of ops/deploy/.env (secrets included; see ops/deploy/.env.example). The model server's address is added for the split layout."
  type        = map(string)
  sensitive   = true

  validation {
    condition = alltrue([
      for key in ["WEAVIATE_API_KEY", "MINIO_ROOT_PASSWORD", "REDIS_PASSWORD", "LABEL_STUDIO_PASSWORD", "LABEL_STUDIO_USER_TOKEN", "GRAFANA_ADMIN_PASSWORD"] :
      length(lookup(var.stack_env, key, "")) >= 12
    ])
    error_message = "stack_env needs WEAVIATE_API_KEY, MINIO_ROOT_PASSWORD, REDIS_PASSWORD, LABEL_STUDIO_PASSWORD, LABEL_STUDIO_USER_TOKEN and GRAFANA_ADMIN_PASSWORD of at least 12 characters."
  }
}
