terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
  # Local state on purpose: this stack creates the bucket every other stack keeps its state in.
}

provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = { Project = "nodeops", ManagedBy = "terraform", Stack = "bootstrap" }
  }
}
