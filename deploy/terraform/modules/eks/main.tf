# EKS control plane: private API endpoint, KMS envelope encryption of Secrets, all control-plane
# logs, access entries instead of the aws-auth ConfigMap, IRSA and/or Pod Identity, and managed
# add-ons (no self-managed bootstrap add-ons).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  log_group_name = "/aws/eks/${var.cluster_name}/cluster"
}

resource "aws_cloudwatch_log_group" "cluster" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = aws_kms_key.cluster.arn
  skip_destroy      = var.deletion_protection
  tags              = var.tags
}

resource "aws_eks_cluster" "this" {
  name                          = var.cluster_name
  version                       = var.kubernetes_version
  role_arn                      = aws_iam_role.cluster.arn
  enabled_cluster_log_types     = var.cluster_log_types
  bootstrap_self_managed_addons = false

  vpc_config {
    subnet_ids              = var.control_plane_subnet_ids
    security_group_ids      = var.additional_security_group_ids
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint.public_access
    public_access_cidrs     = var.endpoint.public_access ? var.endpoint.public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.cluster.arn
    }
  }

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = var.enable_cluster_creator_admin
  }

  upgrade_policy {
    support_type = var.support_type
  }

  zonal_shift_config {
    enabled = var.zonal_shift
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy_attachment.cluster,
    aws_cloudwatch_log_group.cluster,
  ]
}

# AWS provider 5.x has no EKS deletion-protection flag; this guard makes `terraform destroy` (or a
# change that replaces the cluster) fail while enabled. Decommissioning is deliberate:
#   terraform state rm 'module.eks.terraform_data.deletion_protection[0]'
resource "terraform_data" "deletion_protection" {
  count = var.deletion_protection ? 1 : 0

  input            = aws_eks_cluster.this.arn
  triggers_replace = [aws_eks_cluster.this.arn]

  lifecycle {
    prevent_destroy = true
  }
}
