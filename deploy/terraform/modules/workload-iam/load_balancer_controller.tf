data "aws_iam_policy_document" "load_balancer_controller_assume" {
  count = var.load_balancer_controller.enabled ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [coalesce(var.oidc_provider_arn, "-")]
    }
    condition {
      test     = "StringEquals"
      variable = "${coalesce(var.oidc_provider, "-")}:sub"
      values   = ["system:serviceaccount:${var.load_balancer_controller.namespace}:${var.load_balancer_controller.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${coalesce(var.oidc_provider, "-")}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "load_balancer_controller" {
  count = var.load_balancer_controller.enabled ? 1 : 0

  name_prefix        = "${substr(var.name, 0, 20)}-lb-controller-"
  description        = "AWS Load Balancer Controller (${var.load_balancer_controller.namespace}/${var.load_balancer_controller.service_account})"
  assume_role_policy = data.aws_iam_policy_document.load_balancer_controller_assume[0].json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = var.oidc_provider_arn != null && var.oidc_provider != null
      error_message = "The load balancer controller role uses IRSA: pass oidc_provider_arn and oidc_provider."
    }
  }
}

resource "aws_iam_role_policy_attachment" "load_balancer_controller" {
  count = var.load_balancer_controller.enabled ? 1 : 0

  role       = aws_iam_role.load_balancer_controller[0].name
  policy_arn = var.load_balancer_controller.policy_arn
}
