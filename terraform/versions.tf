terraform {
  required_version = ">= 1.6"

  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.0"
    }
  }
}

# Credentials come from clouds.yaml (or OS_* variables), never from this configuration.
provider "openstack" {
  cloud  = var.cloud
  region = var.region
}
