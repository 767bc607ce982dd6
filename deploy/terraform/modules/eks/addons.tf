# Managed add-ons. The cluster is created without self-managed add-ons, so vpc-cni and kube-proxy
# (before_compute) go in before any node group; coredns and the EBS CSI driver wait for the node
# groups named in var.compute_ready, otherwise they would sit DEGRADED with nowhere to run.
locals {
  addons = merge(
    var.addons,
    var.enable_pod_identity ? { eks-pod-identity-agent = { version = null, configuration_values = null, before_compute = true } } : {},
  )

  # Service-account IAM for add-ons that call AWS APIs.
  addon_roles = {
    aws-ebs-csi-driver = { role_arn = aws_iam_role.ebs_csi.arn, service_account = local.ebs_csi_service_account }
  }
}

resource "terraform_data" "compute_ready" {
  input = var.compute_ready
}

resource "aws_eks_addon" "before_compute" {
  for_each = { for k, v in local.addons : k => v if v.before_compute }

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.version
  configuration_values        = each.value.configuration_values
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"
  service_account_role_arn    = !var.enable_pod_identity && contains(keys(local.addon_roles), each.key) ? local.addon_roles[each.key].role_arn : null

  dynamic "pod_identity_association" {
    for_each = var.enable_pod_identity && contains(keys(local.addon_roles), each.key) ? [local.addon_roles[each.key]] : []
    content {
      role_arn        = pod_identity_association.value.role_arn
      service_account = pod_identity_association.value.service_account
    }
  }

  tags = var.tags
}

resource "aws_eks_addon" "this" {
  for_each = { for k, v in local.addons : k => v if !v.before_compute }

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.version
  configuration_values        = each.value.configuration_values
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"
  service_account_role_arn    = !var.enable_pod_identity && contains(keys(local.addon_roles), each.key) ? local.addon_roles[each.key].role_arn : null

  dynamic "pod_identity_association" {
    for_each = var.enable_pod_identity && contains(keys(local.addon_roles), each.key) ? [local.addon_roles[each.key]] : []
    content {
      role_arn        = pod_identity_association.value.role_arn
      service_account = pod_identity_association.value.service_account
    }
  }

  tags = var.tags

  depends_on = [terraform_data.compute_ready, aws_eks_addon.before_compute]
}
