# One IRSA trust policy per Kubernetes service account that gets an AWS role here (cluster
# autoscaler, Loki): only that service account of this cluster's OIDC issuer may assume it.
locals {
  irsa_roles = merge(
    var.cluster_autoscaler.enabled ? { cluster-autoscaler = var.cluster_autoscaler } : {},
    var.loki.enabled ? { loki = var.loki } : {},
  )
}

data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.irsa_roles

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [coalesce(var.oidc_provider_arn, "-")]
    }
    condition {
      test     = "StringEquals"
      variable = "${coalesce(var.oidc_provider, "-")}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${coalesce(var.oidc_provider, "-")}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}
