# Cluster Autoscaler (kube-system/cluster-autoscaler): reads every Auto Scaling group, but may only
# resize or shrink the groups tagged as this cluster's (the node-groups module tags them).
data "aws_iam_policy_document" "cluster_autoscaler" {
  count = var.cluster_autoscaler.enabled ? 1 : 0

  statement {
    sid = "Discover"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
      "eks:DescribeNodegroup",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ScaleOwnGroups"
    actions   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}"
      values   = ["owned"]
    }
  }
}

resource "aws_iam_role" "cluster_autoscaler" {
  count = var.cluster_autoscaler.enabled ? 1 : 0

  name_prefix        = "${substr(var.name, 0, 20)}-autoscaler-"
  description        = "Cluster Autoscaler (${var.cluster_autoscaler.namespace}/${var.cluster_autoscaler.service_account})"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume["cluster-autoscaler"].json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = var.oidc_provider_arn != null && var.oidc_provider != null
      error_message = "The cluster autoscaler role uses IRSA: pass oidc_provider_arn and oidc_provider."
    }
  }
}

resource "aws_iam_role_policy" "cluster_autoscaler" {
  count = var.cluster_autoscaler.enabled ? 1 : 0

  name   = "scale-own-node-groups"
  role   = aws_iam_role.cluster_autoscaler[0].id
  policy = data.aws_iam_policy_document.cluster_autoscaler[0].json
}
